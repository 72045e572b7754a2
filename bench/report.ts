// Turns a run's measurements into the tables `npm run bench` prints (Markdown, so the same
// text goes into .bench/report.md and BENCHMARKS.md).
import type { RoundTripKind, RoundTrips } from "../src/observability/round-trip-header";
import type { LatencySummary } from "./load";
import type { ProfileSummary } from "./profile";
import type { CryptoLimit, DevServerFloor, StorageCallCost } from "./reference-points";

export type Scenario = "authentication" | "registration";

export type PhaseResult = {
  target: string;
  scenario: Scenario;
  concurrency: number;
  elapsedSeconds: number;
  /** The whole ceremony (options + verify); then each endpoint. */
  ceremony: LatencySummary;
  endpoints: Record<string, LatencySummary>;
  /** CPU ms per ceremony, by process (server processes and the load generator). */
  cpuMsPerCeremony: Record<string, number>;
  /** The first few distinct failure messages, to tell what went wrong. */
  errorSamples: string[];
};

export type RoundTripRow = {
  call: string;
  counts: RoundTrips;
  /** Counts seen for this endpoint at concurrency 8: min and max (null when not measured under load). */
  underLoad: { min: RoundTrips; max: RoundTrips } | null;
  budget: Record<RoundTripKind, number>;
};

export type TargetCheck = { target: string; measured: string; met: boolean };

export type BenchResults = {
  date: string;
  mode: "full" | "smoke";
  machine: Record<string, string | number>;
  settings: Record<string, unknown>;
  cryptoLimit: CryptoLimit[];
  storageCalls: StorageCallCost[];
  devServerFloor: DevServerFloor[];
  phases: PhaseResult[];
  ratios: {
    scenario: Scenario;
    concurrency: number;
    throughputVsBaseline: number;
    p99VsBaseline: number;
    /** Our ceremonies/s over half the empty Worker's requests/s (a ceremony is two requests). */
    vsDevServerFloor: number;
    /** Our ceremonies/s over ES256 WebCrypto verifies/s in workerd (authentication only). */
    vsCryptoLimit: number | null;
    baselineVsCryptoLimit: number | null;
  }[];
  roundTrips: RoundTripRow[];
  targets: TargetCheck[];
  /** Only with --profile. */
  profiles: ({ scenario: Scenario; file: string; ceremonies: number } & ProfileSummary)[];
};

const fmt = (value: number, digits = 1) =>
  Number.isFinite(value) ? value.toLocaleString("en-US", { maximumFractionDigits: digits }) : "–";
const times = (value: number | null) => (value === null || !Number.isFinite(value) ? "–" : `${value.toFixed(2)}×`);
const percent = (value: number | null) =>
  value === null || !Number.isFinite(value) ? "–" : `${(value * 100).toFixed(1)} %`;

function table(header: string[], rows: string[][]): string {
  const align = header.map((_, i) => (i === 0 ? ":--" : "--:"));
  return [header, align, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

export function renderReport(results: BenchResults): string {
  const out: string[] = [];
  const m = results.machine;
  out.push(
    `Run ${results.date} (${results.mode}, ${results.settings.durationSeconds} s) on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB; ` +
      `Node ${m.node}, workerd ${m.workerd}, wrangler ${m.wrangler}, @simplewebauthn/server ${m.simplewebauthn}; ` +
      `local state on ${results.settings.localState}; load average before ${m.loadAverageBefore}, after ${m.loadAverageAfter}.`,
  );

  out.push("\n### Reference points inside workerd\n");
  out.push(
    table(
      [
        "algorithm",
        "crypto.subtle.verify per s",
        "SimpleWebAuthn verifySignature per s (COSE decode + import + verify)",
      ],
      results.cryptoLimit.map((c) => [c.algorithm, fmt(c.webcryptoPerSecond, 0), fmt(c.simplewebauthnPerSecond, 0)]),
    ),
  );
  out.push("");
  out.push(
    table(
      ["one storage call, locally", "latency ms", "CPU ms (Worker process)"],
      results.storageCalls.map((s) => [s.call, fmt(s.latencyMs, 3), fmt(s.cpuMs, 3)]),
    ),
  );
  out.push("");
  const floorRoles = [...new Set(results.devServerFloor.flatMap((f) => Object.keys(f.cpuMsPerRequest)))];
  out.push(
    table(
      [
        "wrangler dev floor: empty Worker (behind the assets router, like ours)",
        "requests/s",
        "≈ 2-request ceremonies/s",
        "p50 ms",
        "p99 ms",
        ...floorRoles.map((role) => `CPU ms/request: ${role}`),
      ],
      results.devServerFloor.map((f) => [
        `c=${f.concurrency}`,
        fmt(f.requests.perSecond),
        fmt(f.requests.perSecond / 2),
        fmt(f.requests.p50, 2),
        fmt(f.requests.p99, 2),
        ...floorRoles.map((role) => fmt(f.cpuMsPerRequest[role] ?? Number.NaN, 2)),
      ]),
    ),
  );

  for (const scenario of ["authentication", "registration"] as const) {
    out.push(
      `\n### ${scenario === "authentication" ? "Authentication" : "Registration"} ceremonies (challenge + verify)\n`,
    );
    const rows: string[][] = [];
    for (const phase of results.phases.filter((p) => p.scenario === scenario)) {
      const line = (what: string, s: LatencySummary) => [
        `${phase.target} · c=${phase.concurrency} · ${what}`,
        fmt(s.perSecond),
        fmt(s.p50, 2),
        fmt(s.p90, 2),
        fmt(s.p99, 2),
        fmt(s.max, 2),
        String(s.errors),
      ];
      rows.push(line("**ceremony**", phase.ceremony));
      for (const [endpoint, summary] of Object.entries(phase.endpoints)) rows.push(line(endpoint, summary));
    }
    out.push(table(["target · concurrency · what", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"], rows));
  }

  out.push("\n### Ratios\n");
  out.push(
    table(
      [
        "ceremony · concurrency",
        "ceremonies/s vs baseline",
        "p99 vs baseline",
        "vs wrangler dev floor",
        "vs ES256 crypto limit",
        "baseline vs ES256 crypto limit",
      ],
      results.ratios.map((r) => [
        `${r.scenario} · c=${r.concurrency}`,
        times(r.throughputVsBaseline),
        times(r.p99VsBaseline),
        percent(r.vsDevServerFloor),
        percent(r.vsCryptoLimit),
        percent(r.baselineVsCryptoLimit),
      ]),
    ),
  );

  out.push("\n### CPU per ceremony, by process (ms)\n");
  const roles = [...new Set(results.phases.flatMap((p) => Object.keys(p.cpuMsPerCeremony)))];
  out.push(
    table(
      ["target · ceremony · concurrency", ...roles, "total"],
      results.phases.map((p) => [
        `${p.target} · ${p.scenario} · c=${p.concurrency}`,
        ...roles.map((role) => (role in p.cpuMsPerCeremony ? fmt(p.cpuMsPerCeremony[role] ?? Number.NaN, 2) : "")),
        fmt(
          Object.values(p.cpuMsPerCeremony).reduce((sum, ms) => sum + ms, 0),
          2,
        ),
      ]),
    ),
  );

  out.push("\n### Storage round trips per call (counted by BENCH_INSTRUMENTATION)\n");
  const kinds = ["limiter", "challenge", "d1-read", "d1-write", "waits"] as const;
  const cell = (row: RoundTripRow, kind: keyof RoundTrips) => {
    const under = row.underLoad;
    const spread =
      under && under.min[kind] !== under.max[kind] ? ` (${under.min[kind]}–${under.max[kind]} under load)` : "";
    return `${row.counts[kind]}${spread}`;
  };
  out.push(
    table(
      ["call", ...kinds, "budget (limiter/challenge/read/write)"],
      results.roundTrips.map((row) => [
        row.call,
        ...kinds.map((kind) => cell(row, kind)),
        (["limiter", "challenge", "d1-read", "d1-write"] as const).map((kind) => row.budget[kind]).join("/"),
      ]),
    ),
  );
  out.push(
    "\n`waits`: times the request waited on storage with nothing else in flight (calls made together count once).",
  );

  out.push("\n### Targets (reported, never asserted)\n");
  out.push(
    table(
      ["target", "measured", "met"],
      results.targets.map((t) => [t.target, t.measured, t.met ? "yes" : "**no**"]),
    ),
  );

  for (const profile of results.profiles) {
    out.push(
      `\n### CPU profile of the Worker isolate: ${profile.scenario} at c=8 (${profile.ceremonies} ceremonies, ${profile.file}; profiling slows it down)\n`,
    );
    out.push(
      table(
        ["where", "sampled ms per ceremony"],
        profile.byCategory.map((c) => [c.category, fmt(c.msPerCeremony, 3)]),
      ),
    );
    out.push("");
    out.push(
      table(
        ["function (own time)", "where it starts in the bundle", "ms per ceremony"],
        profile.topFunctions.map((f) => [
          `\`${f.function}\``,
          f.source ? `\`${f.source.replaceAll("|", "\\|").replaceAll("`", "'")}\`` : "",
          fmt(f.msPerCeremony, 3),
        ]),
      ),
    );
  }
  return out.join("\n");
}
