// Starts the servers a benchmark run drives (ours and the peer, each under `wrangler dev`) and
// stops them again. Everything they write (local D1 and Durable Object state, generated
// secrets, server logs) stays under the given directories. Loopback only.
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export type RunningServer = {
  /** Where to send requests (127.0.0.1, so no name lookup or IPv6 fallback in the way). */
  url: string;
  /** The web origin its clients run on: http://localhost:<port>, with RP ID "localhost". */
  origin: string;
  /** CPU time used so far by each of its processes, in ms, by role (empty where /proc is missing). */
  cpuMs(): Record<string, number>;
  stop(): Promise<void>;
};

export type WranglerDevOptions = {
  /** wrangler.toml to run; the project's own by default. */
  config?: string;
  /** Directory for logs and generated secrets, wiped first. */
  workDir: string;
  /** Directory for local D1 and Durable Object state, wiped first (default: workDir/state). */
  stateDir?: string;
  vars?: Record<string, string>;
  /** Written to an env file passed with --env-file (so an existing .dev.vars is never read or touched). */
  secrets?: Record<string, string>;
  /** Apply the D1 migrations to the fresh local database first. */
  migrate?: boolean;
  /** Path that answers 200 once the Worker is up. */
  readyPath?: string;
  /** Listen here (a free port when left out). */
  port?: number;
  /** DevTools inspector port, for CPU profiles (a free port when left out). */
  inspectorPort?: number;
  /** More `wrangler dev` arguments. */
  args?: string[];
};

/** A port nobody listens on right now (loopback only). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

const bin = (name: string) => join(process.cwd(), "node_modules", ".bin", name);

export async function startWranglerDev(options: WranglerDevOptions): Promise<RunningServer> {
  const { workDir } = options;
  const state = options.stateDir ?? join(workDir, "state");
  for (const dir of [workDir, state]) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }
  const configArgs = options.config ? ["--config", options.config] : [];

  const envFileArgs: string[] = [];
  if (options.secrets) {
    const envFile = join(workDir, "secrets.env");
    // Single quotes: dotenv keeps JSON values verbatim.
    const lines = Object.entries(options.secrets).map(([name, value]) => `${name}='${value}'`);
    writeFileSync(envFile, `${lines.join("\n")}\n`, { mode: 0o600 });
    envFileArgs.push("--env-file", envFile);
  }
  if (options.migrate) {
    await runToEnd(
      bin("wrangler"),
      ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state, ...configArgs],
      MIGRATION_TIMEOUT_MS,
    );
  }

  const port = options.port ?? (await freePort());
  const varArgs = Object.entries(options.vars ?? {}).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const logPath = join(workDir, "wrangler.log");
  const child = spawnGroup(
    bin("wrangler"),
    [
      "dev",
      ...configArgs,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(options.inspectorPort ?? (await freePort())),
      "--persist-to",
      state,
      "--show-interactive-dev-session=false",
      ...envFileArgs,
      ...varArgs,
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", ...logTo(logPath)], env: { ...process.env, CI: "true" } },
  );
  // wrangler dev runs two workerd processes: a proxy on the public port, and the Worker itself
  // (with its Durable Objects and the local D1) on a port of its own.
  const role = (command: string) => {
    if (command.includes("workerd")) {
      return command.includes(`:${port} `) || command.endsWith(`:${port}`) ? "workerd (dev proxy)" : "workerd (Worker)";
    }
    if (command.includes("esbuild")) return "esbuild (dev bundler)";
    return "wrangler (Node)";
  };
  return running(child, port, options.readyPath ?? "/", logPath, role);
}

/** stdout and stderr straight into a file: the server's log lines never pass through (and cost) the bench. */
function logTo(logPath: string): [number, number] {
  const fd = openSync(logPath, "w");
  return [fd, fd];
}

const MIGRATION_TIMEOUT_MS = 120_000;
const READY_TIMEOUT_MS = 90_000;
/** One readiness probe; a server that accepts the connection but never answers must not stall the wait. */
const PROBE_TIMEOUT_MS = 2_000;
/** How long a process group gets to exit after SIGTERM, then after SIGKILL. */
const STOP_GRACE_MS = 5_000;

/** Process groups started here that may still have live members: what stopEverything stops. */
const groups = new Set<number>();
let closing = false;

/**
 * Spawns a command as the leader of a process group of its own, so stopping it also stops what
 * it started (wrangler starts workerd and esbuild), even after the leader itself has exited.
 */
function spawnGroup(command: string, args: string[], options: SpawnOptions): ChildProcess {
  if (closing) throw new Error("the bench is shutting down");
  const child = spawn(command, args, { ...options, detached: true });
  // The child has its own copies of the log file's descriptor.
  for (const fd of Array.isArray(options.stdio) ? new Set(options.stdio) : []) {
    if (typeof fd === "number") closeSync(fd);
  }
  // Without a listener a failed spawn (e.g. a missing binary) would throw out of the event loop.
  child.on("error", () => {});
  if (child.pid !== undefined) groups.add(child.pid);
  return child;
}

/** Runs a command to its end; stops its whole process group and fails if it takes longer than timeoutMs. */
async function runToEnd(command: string, args: string[], timeoutMs: number): Promise<void> {
  const child = spawnGroup(command, args, {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CI: "true" },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const outcome = await Promise.race([
      new Promise<string>((resolve) => {
        child.once("exit", (code, signal) => resolve(code === 0 ? "" : `exited with ${code ?? signal}`));
        child.once("error", (error) => resolve(error.message));
      }),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`did not finish within ${timeoutMs / 1000}s`), timeoutMs);
      }),
    ]);
    if (outcome) throw new Error(`${command} ${args.slice(0, 3).join(" ")}: ${outcome}`);
  } finally {
    clearTimeout(timer);
    // Whatever it started and left behind goes too.
    if (child.pid !== undefined) await stopGroup(child.pid);
  }
}

async function running(
  child: ChildProcess,
  port: number,
  readyPath: string,
  logPath: string,
  role: (command: string) => string,
): Promise<RunningServer> {
  const url = `http://127.0.0.1:${port}`;
  const group = child.pid;
  const stop = () => (group === undefined ? Promise.resolve() : stopGroup(group));
  try {
    if (group === undefined) throw new Error("server did not start");
    await waitUntilReady(`${url}${readyPath}`, child, READY_TIMEOUT_MS);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message} (see ${logPath})`);
  }
  return { url, origin: `http://localhost:${port}`, cpuMs: () => groupCpuMs(group, role), stop };
}

async function waitUntilReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited with ${child.exitCode ?? child.signalCode}`);
    }
    if (closing) throw new Error("the bench is shutting down");
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening (or not answering) yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`server was not ready at ${url} within ${timeoutMs / 1000}s`);
}

/** Sends a signal to every process of a group; false once the group has no process left. */
function signalGroup(group: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-group, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/** True while a group has a process that is not a zombie (an exited process nobody reaped yet still counts for kill). */
function groupAlive(group: number): boolean {
  if (!signalGroup(group, 0)) return false;
  const members = groupMembers(group);
  return members === null || members.some((member) => member.state !== "Z");
}

async function waitForGroupExit(group: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (groupAlive(group)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/**
 * SIGTERM to the whole process group, SIGKILL if anything lingers. The group is signalled even
 * if its leader has already exited: wrangler can die and leave its workerd processes running.
 */
async function stopGroup(group: number): Promise<void> {
  signalGroup(group, "SIGTERM");
  if (!(await waitForGroupExit(group, STOP_GRACE_MS))) {
    signalGroup(group, "SIGKILL");
    if (!(await waitForGroupExit(group, STOP_GRACE_MS))) {
      console.error(`bench: process group ${group} survived SIGKILL`);
      return;
    }
  }
  groups.delete(group);
}

/** Stops every server and command started here. */
export async function stopEverything(): Promise<void> {
  await Promise.allSettled([...groups].map(stopGroup));
}

/** The run is being abandoned: stops everything, and anything still starting fails instead of coming up. */
export async function shutDown(): Promise<void> {
  closing = true;
  await stopEverything();
}

/** Last resort, for the `exit` event (no waiting possible there): SIGKILL to every group still known. */
export function killEverythingNow(): void {
  closing = true;
  for (const group of groups) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

// Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every common architecture.
const MS_PER_TICK = 10;

type GroupMember = { state: string; cpuTicks: number; command: string };

/** The processes of a group, read from /proc (null where /proc is missing). */
function groupMembers(group: number): GroupMember[] | null {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  const members: GroupMember[] = [];
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the parenthesised command name: state(0) ppid pgrp(2) … utime(11) stime(12).
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== group) continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      members.push({ state: fields[0] ?? "", cpuTicks: Number(fields[11]) + Number(fields[12]), command });
    } catch {
      // the process ended meanwhile
    }
  }
  return members;
}

/** CPU ms (user + system) of every live process in a process group, summed by role. */
function groupCpuMs(group: number, role: (command: string) => string): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const member of groupMembers(group) ?? []) {
    const name = role(member.command);
    totals[name] = (totals[name] ?? 0) + member.cpuTicks * MS_PER_TICK;
  }
  return totals;
}
