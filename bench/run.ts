// `npm run bench`: ours against the peer (bench/peer-worker: @simplewebauthn/server with
// in-memory maps, as a Worker), both under the same `wrangler dev`, same settings, state on tmpfs.
// Method and what each figure means: BENCHMARKS.md. Finishes by itself.
//
//   npm run bench                  full run (about 5 minutes on 2 quiet cores)
//   npm run bench -- --smoke       tiny counts, for CI (also BENCH_SMOKE=1); speed is never asserted
//   npm run bench -- --write       full run, then its tables replace those at the end of BENCHMARKS.md
//   npm run bench -- --profile     the CPU profiles only (about a minute): for before/after comparisons
//
// A watchdog ends the run (exit code 124) after 600 s, 180 s with --smoke (BENCH_WATCHDOG_SECONDS
// sets another limit). However it ends, it stops every process group it started.
// The report is printed (Markdown) and written with every figure to .bench/ (not committed).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { generateSecrets } from "../scripts/secrets.mjs";
import { SoftAuthenticator } from "../test/authenticator/soft-authenticator";
import {
  authenticate,
  type BenchUser,
  type CallRecord,
  call,
  clientIp,
  type Endpoint,
  generateAuthenticators,
  register,
  type Target,
  targetAt,
} from "./ceremonies";
import type { WaitLabel } from "./instrumentation/round-trip-header";
import { type LoadResult, runLoad, runOpenLoop, summarize } from "./load";
import { type Design, latencyTable, todaysDesign } from "./model";
import { notTheWorkers, openProfiler, type Profiler } from "./profile";
import {
  type BenchResults,
  type Cell,
  cpuTables,
  median,
  type RouteCpu,
  renderReport,
  signInCpuRatio,
  writeTablesInto,
} from "./report";
import { freePort, killEverythingNow, type RunningServer, shutDown, startWranglerDev, stopEverything } from "./servers";

const smoke = process.argv.includes("--smoke") || process.env.BENCH_SMOKE === "1";
const writeBenchmarks = process.argv.includes("--write");
const profileOnly = process.argv.includes("--profile");
if (smoke && writeBenchmarks) throw new Error("--write takes a full run's figures, not --smoke's");
if (profileOnly && writeBenchmarks) throw new Error("--write takes a full run's figures, not --profile's");

const settings = smoke
  ? { reps: 1, cellSeconds: 1, users: 16, openLoopSeconds: 1, profileRounds: 1, warmupSeconds: 0.5 }
  : { reps: 3, cellSeconds: 5, users: 64, openLoopSeconds: 6, profileRounds: 3, warmupSeconds: 3 };
/** Closed-loop cells: sign-in at 1 and 8 clients, sign-up at 8. */
const cells = [
  { scenario: "sign-in", concurrency: 1 },
  { scenario: "sign-in", concurrency: 8 },
  { scenario: "sign-up", concurrency: 8 },
] as const;
/** The open-loop rate, as a share of the slower server's median sign-in throughput at c=8. */
const OPEN_LOOP_SHARE = 0.5;
/** Profiled calls per route and round run this many at a time. */
const PROFILE_CONCURRENCY = 4;

const OUT = ".bench";
// Local D1 and Durable Object state is SQLite; on a VM disk every commit waits for a flush, which
// is the disk, not the Worker. tmpfs takes that out (for both servers alike).
const stateRoot = existsSync("/dev/shm") ? join("/dev/shm", `passkey-bench-${process.pid}`) : join(OUT, "state");
const WORKER_PROCESS = "workerd (Worker)";
/** Our Worker with every request's storage round trips in `Server-Timing` (bench/instrumentation/). */
const INSTRUMENTED_ENTRY = join("bench", "instrumentation", "worker.ts");

const say = (text: string) => console.error(`bench: ${text}`);
const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const versionOf = (pkg: string) =>
  (JSON.parse(readFileSync(join("node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;

let abandoning = false;
/** Stops every server, then exits; once only. */
function abandon(exitCode: number, why: string) {
  if (abandoning) return;
  abandoning = true;
  say(`${why}; stopping the servers`);
  setTimeout(() => process.exit(exitCode), 20_000).unref();
  void shutDown()
    .then(() => rmSync(stateRoot, { recursive: true, force: true }))
    .finally(() => process.exit(exitCode));
}
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const) {
  process.on(signal, () => abandon(code, signal));
}
// Whatever way the process ends, no workerd or wrangler it started outlives it.
process.on("exit", killEverythingNow);
const watchdogSeconds = Number(process.env.BENCH_WATCHDOG_SECONDS) || (smoke ? 180 : 600);
const watchdog = setTimeout(() => {
  abandon(124, `watchdog: the run is still going after ${watchdogSeconds}s (BENCH_WATCHDOG_SECONDS raises the limit)`);
}, watchdogSeconds * 1000);

type Server = { target: Target; server: RunningServer; inspectorPort: number };
/** A server of the comparison, with its inspector session (opened before any load: see openProfiler). */
type ProfiledServer = Server & { profiler: Profiler };

async function start(name: "ours" | "peer" | "ours-instrumented", secrets: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const origin = `http://localhost:${port}`;
  const server = await startWranglerDev({
    ...(name === "peer" ? { config: join("bench", "peer-worker", "wrangler.toml") } : { secrets, migrate: true }),
    workDir: join(OUT, name),
    stateDir: join(stateRoot, name),
    port,
    inspectorPort,
    readyPath: "/api/v1/health",
    // Unminified for both, so CPU profiles can tell modules apart (minifying changes parse time, once per isolate).
    // The instrumented copy runs our Worker through the entry that counts its storage round trips.
    args: ["--minify=false", ...(name === "ours-instrumented" ? [INSTRUMENTED_ENTRY] : [])],
    vars:
      name === "peer"
        ? { ORIGIN: origin }
        : {
            RP_ORIGINS: origin,
            CORS_ORIGINS: origin,
            // Raised for the run: the limiter still does its round trip on every request, never refuses.
            RATE_LIMIT_REQUESTS: "1000000",
            RATE_LIMIT_VERIFY_REQUESTS: "1000000",
          },
  });
  return { target: targetAt(name, server.url, origin), server, inspectorPort };
}

/** Registers `count` users (one passkey each), eight at a time. */
async function seedUsers(target: Target, count: number, tag: string): Promise<BenchUser[]> {
  const users = (await generateAuthenticators(count)).map((authenticator, i) => ({
    username: `bench-${tag}-${i}`,
    authenticator,
    ip: clientIp(i),
  }));
  const result = await runLoad({ concurrency: 8, maxCeremonies: count, maxSeconds: 120 }, (i) => {
    const user = users[i] as BenchUser;
    return register(target, user.authenticator, user.username, user.ip);
  });
  const failed = result.ceremonies.find((c) => !c.ok);
  if (failed || result.ceremonies.length !== count) {
    throw new Error(`could not register the bench users on ${target.name}: ${failed?.error ?? "ran out of time"}`);
  }
  return users;
}

/** Sign-ins: each client signs in only with its own users, so no two ceremonies race on one counter. */
function signIns(target: Target, users: BenchUser[], concurrency: number, seconds: number) {
  const perClient = Math.max(1, Math.floor(users.length / concurrency));
  const turns = new Map<number, number>();
  return runLoad({ concurrency, maxCeremonies: 1_000_000, maxSeconds: seconds }, (_index, client) => {
    const turn = turns.get(client) ?? 0;
    turns.set(client, turn + 1);
    return authenticate(target, users[(client + concurrency * (turn % perClient)) % users.length] as BenchUser);
  });
}

/** Sign-ups: a new name, a key made before the clock starts and a client address of its own each. */
let signUpNumber = 0;
async function signUps(target: Target, concurrency: number, seconds: number, keys: SoftAuthenticator[]) {
  const first = signUpNumber;
  signUpNumber += keys.length;
  return runLoad({ concurrency, maxCeremonies: keys.length, maxSeconds: seconds }, (i) =>
    register(target, keys[i] as SoftAuthenticator, `bench-new-${first + i}`, clientIp(100_000 + first + i)),
  );
}

/** Runs a phase and reads the CPU the server's Worker process spent on it (ms per ceremony). */
async function withProcessCpu(server: RunningServer, run: () => Promise<LoadResult>) {
  const before = server.cpuMs()[WORKER_PROCESS] ?? 0;
  const result = await run();
  const ms = (server.cpuMs()[WORKER_PROCESS] ?? 0) - before;
  return { result, processCpuMs: ms / Math.max(1, result.ceremonies.length) };
}

function cellOf(target: string, what: string, concurrency: number, result: LoadResult, processCpuMs: number): Cell {
  return {
    target,
    what,
    concurrency,
    ...summarize(result.ceremonies, result.elapsedSeconds),
    processCpuMs: Math.round(processCpuMs * 100) / 100,
    errorSamples: [...new Set(result.ceremonies.flatMap((c) => (c.error ? [c.error] : [])))].slice(0, 3),
  };
}

/**
 * The storage waits of each call, read from the instrumented copy of ours. Sign-in verify twice:
 * with the bench's keys, whose counter rises on every assertion (a security key: the counter's
 * compare-and-swap is a wait), and with a synced passkey (counter always 0, backup eligible and
 * backed up: no counter to keep, so no write to wait on).
 */
async function measureWaits(target: Target) {
  const [user] = await seedUsers(target, 1, "waits");
  const [key] = await generateAuthenticators(1);
  if (!user || !key) throw new Error("no bench user");
  const syncedUser: BenchUser = {
    username: "bench-waits-synced",
    authenticator: await SoftAuthenticator.create({
      algorithm: "ES256",
      countSignatures: false,
      backupEligible: true,
      backupState: true,
    }),
    ip: clientIp(90_001),
  };
  await register(target, syncedUser.authenticator, syncedUser.username, syncedUser.ip);
  const [signUpOptions, signUpVerify] = await register(target, key, "bench-waits-new", clientIp(90_000));
  const [signInOptions, counterVerify] = await authenticate(target, user);
  const [, syncedVerify] = await authenticate(target, syncedUser);
  const [usernameless] = await authenticate(target, user, true);
  const waits = (record: CallRecord | undefined) => {
    if (!record?.waits)
      throw new Error(`no storage waits reported for ${record?.endpoint}: not the instrumented entry?`);
    return record.waits;
  };
  return {
    "registration/challenge": waits(signUpOptions),
    "registration/verify": waits(signUpVerify),
    "authentication/challenge": waits(signInOptions),
    "authentication/verify (security key with a counter)": waits(counterVerify),
    "authentication/verify (synced passkey)": waits(syncedVerify),
    "authentication/challenge (usernameless)": waits(usernameless),
  } satisfies Record<string, WaitLabel[][]>;
}

/** Runs `work` on a few clients at a time. */
async function inParallel<T>(items: T[], work: (item: T) => Promise<unknown>) {
  let next = 0;
  const client = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: PROFILE_CONCURRENCY }, client));
}

/** One ceremony to profile: its client address, the options call's body, and how the answer is signed. */
type Profiled = { ip: string; body: object; sign: (options: never) => Promise<unknown> };

/**
 * CPU in the isolate per call of each route: profiles one route's calls at a time (the options
 * calls, then, with the answers signed outside the window, the verify calls).
 */
async function profileRoutes({ target, profiler }: ProfiledServer, users: BenchUser[]): Promise<RouteCpu[]> {
  const sampled = new Map<Endpoint, { calls: number; ms: Map<string, number> }>();
  const window = async <T>(route: Endpoint, items: T[], work: (item: T) => Promise<unknown>) => {
    const totals = sampled.get(route) ?? { calls: 0, ms: new Map<string, number>() };
    for (const [category, ms] of await profiler.during(() => inParallel(items, work))) {
      totals.ms.set(category, (totals.ms.get(category) ?? 0) + ms);
    }
    totals.calls += items.length;
    sampled.set(route, totals);
  };
  const ceremony = async (kind: "authentication" | "registration", items: Profiled[]) => {
    const answered: { ip: string; sign: Profiled["sign"]; options: unknown }[] = [];
    await window(`${kind}/challenge`, items, async ({ ip, body, sign }) => {
      answered.push({ ip, sign, options: await call(target, `${kind}/challenge`, body, ip, []) });
    });
    const signed = await Promise.all(
      answered.map(async ({ ip, sign, options }) => ({ ip, credential: await sign(options as never) })),
    );
    const status = kind === "registration" ? 201 : 200;
    await window(`${kind}/verify`, signed, ({ ip, credential }) =>
      call(target, `${kind}/verify`, { credential }, ip, [], status),
    );
  };
  const origin = { origin: target.origin };
  for (let round = 0; round < settings.profileRounds; round++) {
    await ceremony(
      "authentication",
      users.map(({ ip, username, authenticator }) => ({
        ip,
        body: { username },
        sign: (options) => authenticator.assert(options, origin),
      })),
    );
    const keys = await generateAuthenticators(users.length);
    await ceremony(
      "registration",
      keys.map((key, i) => {
        const username = `bench-profile-${round}-${i}`;
        return {
          ip: clientIp(200_000 + i),
          body: { username, displayName: username },
          sign: (options) => key.register(options, origin),
        };
      }),
    );
  }
  return [...sampled].map(([route, { calls, ms }]) => {
    const byCategory = [...ms]
      .map(([category, total]) => ({ category, ms: Math.round((total / calls) * 1000) / 1000 }))
      .sort((x, y) => y.ms - x.ms);
    const workerMs = byCategory.filter((c) => !notTheWorkers.has(c.category)).reduce((sum, c) => sum + c.ms, 0);
    return { target: target.name, route, calls, workerMs: Math.round(workerMs * 100) / 100, byCategory };
  });
}

async function main() {
  const started = Date.now();
  mkdirSync(OUT, { recursive: true });
  const machine = {
    cpus: `${cpus().length} × ${cpus()[0]?.model.trim() ?? "unknown"}`,
    node: process.version,
    workerd: versionOf("workerd"),
    wrangler: versionOf("wrangler"),
    simplewebauthn: versionOf("@simplewebauthn/server"),
    loadBefore: loadAverage(),
    loadAfter: "",
  };
  say(
    `${profileOnly ? "profile" : smoke ? "smoke" : "full"} run on ${machine.cpus}, load average ${machine.loadBefore}`,
  );
  const { ADMIN_API_KEY: _unused, ...secrets } = await generateSecrets();
  if (profileOnly) return profileRun(secrets, machine);

  say("storage waits per call (an instrumented copy of ours)…");
  const instrumented = await start("ours-instrumented", secrets);
  const waits = await measureWaits(instrumented.target);
  await instrumented.server.stop();

  const { servers, users } = await startBoth(secrets);

  // Interleaved (peer, ours, peer, ours…), so a neighbour's load on a shared machine hits both alike.
  const closed: Cell[] = [];
  for (const { scenario, concurrency } of cells) {
    for (let rep = 0; rep < settings.reps; rep++) {
      // Enough keys for the fastest server's whole cell, made before the clock starts.
      const keys = scenario === "sign-up" ? await generateAuthenticators(smoke ? 40 : 2_000) : [];
      for (const { target, server } of servers) {
        const { result, processCpuMs } = await withProcessCpu(server, () =>
          scenario === "sign-in"
            ? signIns(target, users.get(target.name) ?? [], concurrency, settings.cellSeconds)
            : signUps(target, concurrency, settings.cellSeconds, keys),
        );
        const cell = cellOf(target.name, scenario, concurrency, result, processCpuMs);
        closed.push(cell);
        say(`${scenario} c=${concurrency} #${rep + 1} ${target.name}: ${cell.perSecond}/s, p50 ${cell.p50} ms`);
      }
    }
  }

  const medianRate = (target: string) =>
    median(
      closed.filter((c) => c.target === target && c.what === "sign-in" && c.concurrency === 8).map((c) => c.perSecond),
    );
  const rate = Math.max(1, Math.round(OPEN_LOOP_SHARE * Math.min(medianRate("peer"), medianRate("ours"))));
  const open: Cell[] = [];
  for (let rep = 0; rep < settings.reps; rep++) {
    for (const { target, server } of servers) {
      const pool = users.get(target.name) ?? [];
      const { result, processCpuMs } = await withProcessCpu(server, () =>
        runOpenLoop(
          rate,
          settings.openLoopSeconds,
          (i) => i % pool.length,
          (i) => authenticate(target, pool[i % pool.length] as BenchUser),
        ),
      );
      const cell = cellOf(target.name, `sign-in at ${rate}/s`, 0, result, processCpuMs);
      open.push(cell);
      say(`open loop ${rate}/s #${rep + 1} ${target.name}: p50 ${cell.p50} ms, p99 ${cell.p99} ms`);
    }
  }

  const cpu = await profileBoth(servers, users);
  await stopAll();

  const cpuOf = (target: string, route: Endpoint) =>
    cpu.find((c) => c.target === target && c.route === route)?.workerMs ?? Number.NaN;
  // Sign-in options are the same call whichever passkey then answers; the CPU is profiled on the
  // bench's keys (counter-bearing) and used for both.
  const thisBuild = (passkey: string, verifyWaits: WaitLabel[][], note?: string): Design => ({
    name: `this build, ${passkey} (measured)`,
    calls: [
      {
        route: "authentication/challenge",
        waits: waits["authentication/challenge"],
        cpuMs: cpuOf("ours", "authentication/challenge"),
      },
      { route: "authentication/verify", waits: verifyWaits, cpuMs: cpuOf("ours", "authentication/verify") },
    ],
    ...(note ? { note } : {}),
  });
  const synced = thisBuild(
    "synced passkey",
    waits["authentication/verify (synced passkey)"],
    "CPU per call: the security key's, as profiled (the bench's profiled keys count their signatures)",
  );
  const securityKey = thisBuild(
    "security key with a counter",
    waits["authentication/verify (security key with a counter)"],
  );
  const designs = [todaysDesign, synced, securityKey];
  machine.loadAfter = loadAverage();
  const results: BenchResults = {
    date: new Date(started).toISOString(),
    mode: smoke ? "smoke" : "full",
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine,
    settings: { ...settings, cells, openLoopRate: rate, state: stateRoot.startsWith("/dev/shm") ? "tmpfs" : "disk" },
    waits,
    closed,
    open,
    cpu,
    designs,
    // The single-region rows: this build as most sign-ins run it (a synced passkey).
    model: latencyTable(designs, synced),
  };
  const report = renderReport(results);
  writeFileSync(join(OUT, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(OUT, "report.md"), `${report}\n`);
  console.log(report);
  const failed = [...closed, ...open].filter((c) => c.errors > 0);
  for (const c of failed)
    say(`${c.target} ${c.what} c=${c.concurrency}: ${c.errors} failed, e.g. ${c.errorSamples.join("; ")}`);
  say(`done in ${results.durationSeconds}s; wrote ${OUT}/results.json and ${OUT}/report.md`);
  // Speed is reported, never asserted; failed ceremonies mean the figures are not of working code.
  if (failed.length > 0) process.exitCode = 1;
  else if (writeBenchmarks) {
    writeTablesInto("BENCHMARKS.md", report);
    say("wrote the tables into BENCHMARKS.md");
  }
}

/** Ours and the peer, each with its inspector session and its bench users registered and warmed up. */
async function startBoth(secrets: Record<string, string>) {
  say("starting ours and the peer, registering users, warming up…");
  const servers: ProfiledServer[] = [];
  for (const name of ["peer", "ours"] as const) {
    const server = await start(name, secrets);
    // Now, before any request: a session opened after the load would not open in time (openProfiler).
    servers.push({ ...server, profiler: await openProfiler(server.inspectorPort) });
  }
  const users = new Map<string, BenchUser[]>();
  for (const { target } of servers) {
    const pool = await seedUsers(target, settings.users, target.name);
    users.set(target.name, pool);
    await signIns(target, pool, 8, settings.warmupSeconds);
  }
  return { servers, users };
}

/** `--profile`: only the CPU profiles (BENCHMARKS.md "Method"), ours and the peer's, written to .bench/profile.md. */
async function profileRun(secrets: Record<string, string>, machine: Record<string, string>) {
  const { servers, users } = await startBoth(secrets);
  const cpu = await profileBoth(servers, users);
  await stopAll();
  const report = [
    `CPU profiles only, ${settings.profileRounds} round(s); load average before ${machine.loadBefore}, after ${loadAverage()}.`,
    ...cpuTables(cpu),
    `\nWorker CPU per sign-in, ours / peer: ${signInCpuRatio(cpu).toFixed(2)}×`,
  ].join("\n");
  writeFileSync(join(OUT, "profile.json"), `${JSON.stringify(cpu, null, 2)}\n`);
  writeFileSync(join(OUT, "profile.md"), `${report}\n`);
  console.log(report);
}

/** The CPU profiles of both servers, one route at a time (BENCHMARKS.md "Method"); ends their sessions. */
async function profileBoth(servers: ProfiledServer[], users: Map<string, BenchUser[]>): Promise<RouteCpu[]> {
  say("CPU profiles, one route at a time…");
  const cpu: RouteCpu[] = [];
  for (const server of servers) {
    cpu.push(...(await profileRoutes(server, users.get(server.target.name) ?? [])));
    server.profiler.close();
  }
  return cpu;
}

async function stopAll() {
  await stopEverything();
  rmSync(stateRoot, { recursive: true, force: true });
}

main()
  .catch((error: unknown) => {
    if (!abandoning) console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    clearTimeout(watchdog);
    setTimeout(() => {
      say("something still holds the process open after the run; exiting");
      process.exit();
    }, 10_000).unref();
  });
