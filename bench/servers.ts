// Starts the servers a benchmark run drives (the Worker under `wrangler dev`, the Node baseline)
// and stops them again. Everything they write (local D1 and Durable Object state, generated
// secrets, server logs) stays under the given directories. Loopback only.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
    execFileSync(
      bin("wrangler"),
      ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state, ...configArgs],
      {
        stdio: ["ignore", "ignore", "inherit"],
        env: { ...process.env, CI: "true" },
      },
    );
  }

  const port = options.port ?? (await freePort());
  const varArgs = Object.entries(options.vars ?? {}).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const logPath = join(workDir, "wrangler.log");
  const child = spawn(
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
    // Its own process group, so stopping it also stops workerd and esbuild.
    { detached: true, stdio: ["ignore", ...logTo(logPath)], env: { ...process.env, CI: "true" } },
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

/** The baseline server (bench/baseline-server.ts) in its own Node process. */
export async function startBaseline(workDir: string): Promise<RunningServer> {
  mkdirSync(workDir, { recursive: true });
  const port = await freePort();
  const logPath = join(workDir, "baseline.log");
  const child = spawn(bin("tsx"), ["bench/baseline-server.ts", String(port)], {
    detached: true,
    stdio: ["ignore", ...logTo(logPath)],
  });
  return running(child, port, "/api/v1/health", logPath, () => "baseline (Node)");
}

/** stdout and stderr straight into a file: the server's log lines never pass through (and cost) the bench. */
function logTo(logPath: string): [number, number] {
  const fd = openSync(logPath, "w");
  return [fd, fd];
}

async function running(
  child: ChildProcess,
  port: number,
  readyPath: string,
  logPath: string,
  role: (command: string) => string,
): Promise<RunningServer> {
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopGroup(child);
  try {
    await waitUntilReady(`${url}${readyPath}`, child, 90_000);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message} (see ${logPath})`);
  }
  return { url, origin: `http://localhost:${port}`, cpuMs: () => groupCpuMs(child.pid, role), stop };
}

async function waitUntilReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`server was not ready at ${url} within ${timeoutMs / 1000}s`);
}

/** SIGTERM to the process group, SIGKILL if it lingers. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), name);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

// Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every common architecture.
const MS_PER_TICK = 10;

/** CPU ms (user + system) of every live process in a process group, summed by role. */
function groupCpuMs(groupId: number | undefined, role: (command: string) => string): Record<string, number> {
  const totals: Record<string, number> = {};
  if (groupId === undefined) return totals;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return totals;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the parenthesised command name: state ppid pgrp … utime(11) stime(12).
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== groupId) continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      const name = role(command);
      totals[name] = (totals[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
    } catch {
      // the process ended meanwhile
    }
  }
  return totals;
}
