// Turns a run's measurements into the tables `npm run bench` prints (Markdown: the same text goes
// into .bench/report.md, and its tables into BENCHMARKS.md).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { WaitLabel } from "./instrumentation/round-trip-header";
import type { LatencySummary } from "./load";
import { type Design, edgeNetworks, type ModelRow } from "./model";
import { notTheWorkers } from "./profile";

/** One run of one cell: closed loop (concurrency > 0) or open loop (concurrency 0). */
export type Cell = LatencySummary & {
  target: string;
  what: string;
  concurrency: number;
  /** CPU of the Worker's workerd process per ceremony, from /proc (includes local D1 and Durable Objects). */
  processCpuMs: number;
  errorSamples: string[];
};

/** Sampled CPU per call of one route in the isolate, by where it was spent. */
export type RouteCpu = {
  target: string;
  route: string;
  calls: number;
  /** Everything but the Durable Objects' share and wrangler dev's wrapper. */
  workerMs: number;
  byCategory: { category: string; ms: number }[];
};

export type BenchResults = {
  date: string;
  mode: "full" | "smoke";
  durationSeconds: number;
  machine: Record<string, string>;
  settings: Record<string, unknown>;
  waits: Record<string, WaitLabel[][]>;
  closed: Cell[];
  open: Cell[];
  cpu: RouteCpu[];
  designs: Design[];
  model: ModelRow[];
};

/** The free plan's CPU limit per request. */
export const FREE_PLAN_CPU_MS = 10;

export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const fmt = (value: number, digits = 1) =>
  Number.isFinite(value) ? value.toLocaleString("en-US", { maximumFractionDigits: digits }) : "–";
const times = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–");

function table(header: string[], rows: string[][]): string {
  const align = header.map((_, i) => (i === 0 ? ":--" : "--:"));
  return [header, align, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

const routes = ["authentication/challenge", "authentication/verify", "registration/challenge", "registration/verify"];
const signIn = ["authentication/challenge", "authentication/verify"];

/** The CPU profile's tables: per call of each route, and where a sign-in's CPU goes. */
export function cpuTables(cpu: RouteCpu[]): string[] {
  const out: string[] = [];
  const cpuOf = (target: string, route: string) => cpu.find((c) => c.target === target && c.route === route);
  const worker = (target: string, route: string) => workerCpu(cpu, target, route);
  const over = (ms: number) => (ms > FREE_PLAN_CPU_MS ? "**yes**" : "no");
  out.push("\n### CPU in the isolate per call (ms, sampled; without Durable Objects and wrangler's wrapper)\n");
  out.push(
    table(
      [
        "route",
        "peer",
        "ours",
        "ours / peer",
        `ours over ${FREE_PLAN_CPU_MS} ms (free plan)?`,
        "ours: in our Durable Objects",
      ],
      routes.map((route) => [
        route,
        fmt(worker("peer", route), 2),
        fmt(worker("ours", route), 2),
        times(worker("ours", route) / worker("peer", route)),
        over(worker("ours", route)),
        fmt(
          cpuOf("ours", route)?.byCategory.find((c) => notTheWorkers.has(c.category) && c.category.includes("Durable"))
            ?.ms ?? 0,
          2,
        ),
      ]),
    ),
  );

  out.push("\n### Where a sign-in's CPU goes (options + verify, ms per sign-in)\n");
  const split = (target: string) => {
    const totals = new Map<string, number>();
    for (const route of signIn) {
      for (const { category, ms } of cpuOf(target, route)?.byCategory ?? [])
        totals.set(category, (totals.get(category) ?? 0) + ms);
    }
    return totals;
  };
  const peerSplit = split("peer");
  const oursSplit = split("ours");
  const categories = [...new Set([...oursSplit.keys(), ...peerSplit.keys()])].sort(
    (a, b) => (oursSplit.get(b) ?? 0) - (oursSplit.get(a) ?? 0),
  );
  const group = (category: string) =>
    notTheWorkers.has(category)
      ? "not the Worker's"
      : category.startsWith("ours") || category.startsWith("peer's")
        ? "own code"
        : category.startsWith("library")
          ? "libraries"
          : "runtime and GC";
  const subtotal = (totals: Map<string, number>, name: string) =>
    [...totals].filter(([category]) => group(category) === name).reduce((sum, [, ms]) => sum + ms, 0);
  out.push(
    table(
      ["where", "peer", "ours"],
      ["own code", "libraries", "runtime and GC", "not the Worker's"].flatMap((name) => [
        [`**${name}**`, `**${fmt(subtotal(peerSplit, name), 2)}**`, `**${fmt(subtotal(oursSplit, name), 2)}**`],
        ...categories
          .filter((category) => group(category) === name)
          .map((category) => [
            `  ${category}`,
            fmt(peerSplit.get(category) ?? 0, 2),
            fmt(oursSplit.get(category) ?? 0, 2),
          ]),
      ]),
    ),
  );
  return out;
}

const workerCpu = (cpu: RouteCpu[], target: string, route: string) =>
  cpu.find((c) => c.target === target && c.route === route)?.workerMs ?? Number.NaN;

/** The Worker's CPU per sign-in (options + verify), ours over the peer's. */
export function signInCpuRatio(cpu: RouteCpu[]): number {
  const perSignIn = (target: string) => signIn.reduce((sum, route) => sum + workerCpu(cpu, target, route), 0);
  return perSignIn("ours") / perSignIn("peer");
}

export function renderReport(r: BenchResults): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(
    `Run ${r.date} (${r.mode}, ${r.durationSeconds} s) on ${m.cpus}; Node ${m.node}, workerd ${m.workerd}, ` +
      `wrangler ${m.wrangler}, @simplewebauthn/server ${m.simplewebauthn}; state on ${r.settings.state}; ` +
      `load average before ${m.loadBefore}, after ${m.loadAfter}. ${r.settings.reps} run(s) per cell, medians.`,
  );

  const runsOf = (target: string, what: string, concurrency: number) =>
    r.closed.filter((c) => c.target === target && c.what === what && c.concurrency === concurrency);
  const cellKeys = [...new Set(r.closed.map((c) => `${c.what} c=${c.concurrency}`))];
  out.push("\n### Throughput, closed loop (ceremonies/s; ours / peer)\n");
  out.push(
    table(
      [
        "ceremony",
        "peer /s",
        "ours /s",
        "ours / peer",
        "p50 ms peer / ours",
        "Worker process CPU ms/ceremony peer / ours",
        "runs (peer; ours)",
      ],
      cellKeys.map((key) => {
        const [what = "", c = ""] = key.split(" c=");
        const peer = runsOf("peer", what, Number(c));
        const ours = runsOf("ours", what, Number(c));
        const med = (cells: Cell[], pick: (c: Cell) => number) => median(cells.map(pick));
        return [
          key,
          fmt(med(peer, (c) => c.perSecond)),
          fmt(med(ours, (c) => c.perSecond)),
          times(med(ours, (c) => c.perSecond) / med(peer, (c) => c.perSecond)),
          `${fmt(med(peer, (c) => c.p50))} / ${fmt(med(ours, (c) => c.p50))}`,
          `${fmt(
            med(peer, (c) => c.processCpuMs),
            2,
          )} / ${fmt(
            med(ours, (c) => c.processCpuMs),
            2,
          )}`,
          `${peer.map((c) => fmt(c.perSecond, 0)).join(", ")}; ${ours.map((c) => fmt(c.perSecond, 0)).join(", ")}`,
        ];
      }),
    ),
  );

  out.push(`\n### Latency at a fixed rate (open loop, ${r.settings.openLoopRate} sign-ins/s, medians of runs)\n`);
  out.push(
    table(
      ["server", "p50 ms", "p90 ms", "p99 ms", "errors"],
      ["peer", "ours"].map((target) => {
        const runs = r.open.filter((c) => c.target === target);
        const med = (pick: (c: Cell) => number) => median(runs.map(pick));
        return [
          target,
          fmt(med((c) => c.p50)),
          fmt(med((c) => c.p90)),
          fmt(med((c) => c.p99)),
          String(runs.reduce((s, c) => s + c.errors, 0)),
        ];
      }),
    ),
  );

  out.push(...cpuTables(r.cpu));

  out.push("\n### Storage waits per call (ours, instrumented; `+` = waited on together)\n");
  out.push(
    table(
      ["call", "waits", "in order"],
      Object.entries(r.waits).map(([call, path]) => [
        call,
        String(path.length),
        path.map((w) => w.join(" + ")).join(" → ") || "none",
      ]),
    ),
  );

  out.push("\n### Modelled edge latency of one sign-in (ms, client's view)\n");
  out.push(
    table(
      ["design", ...edgeNetworks.map((n) => n.name)],
      r.model.map((row) => [row.design, ...row.cells.map((ms) => fmt(ms, 0))]),
    ),
  );
  out.push("");
  out.push(
    r.designs
      .map(
        (d) =>
          `- ${d.name}: ${d.calls.map((c) => `${c.route} ${c.waits.map((w) => w.join("+")).join(" → ") || "no waits"}, ${fmt(c.cpuMs, 2)} ms CPU`).join("; ")}.${d.note ? ` ${d.note}.` : ""}`,
      )
      .join("\n"),
  );

  const c8 = (target: string) => median(runsOf(target, "sign-in", 8).map((c) => c.perSecond));
  const throughput = c8("ours") / c8("peer");
  const cpuRatio = signInCpuRatio(r.cpu);
  out.push("\n### Targets (reported, never asserted)\n");
  out.push(
    table(
      ["target", "measured", "met"],
      [
        [
          "sign-in throughput at c=8, ours / peer ≥ 0.5× (aim 0.8×)",
          times(throughput),
          throughput >= 0.5 ? "yes" : "**no**",
        ],
        ["Worker CPU per sign-in ≤ 1.5× the peer's", times(cpuRatio), cpuRatio <= 1.5 ? "yes" : "**no**"],
      ],
    ),
  );
  return out.join("\n");
}

/** BENCHMARKS.md: everything after this line is the last full run's report. */
const TABLES_MARKER = "<!-- tables: written by `npm run bench -- --write` -->";

/** Replaces everything after the marker line of a Markdown page with the report, formatted as Biome would. */
export function writeTablesInto(file: string, report: string): void {
  const page = readFileSync(file, "utf8");
  const at = page.indexOf(TABLES_MARKER);
  if (at < 0) throw new Error(`${file} has no line ${TABLES_MARKER}`);
  writeFileSync(file, `${page.slice(0, at + TABLES_MARKER.length)}\n\n${report}\n`);
  // `npm run lint` checks Markdown too: pad the tables as Biome would.
  execFileSync(join("node_modules", ".bin", "biome"), ["format", "--write", file], { stdio: "ignore" });
}
