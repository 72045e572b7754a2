// CPU inside the isolate: a V8 CPU profile taken through the DevTools inspector that `wrangler
// dev` exposes, while the bench sends one kind of call at a time. Samples are attributed to the
// module they ran in, read from the `// path/to/module` markers esbuild writes into an
// unminified bundle, so the report can say how much of a call's CPU is our code and how much the
// libraries'. Profiling slows the Worker down a little; these windows are never timed runs.

const SAMPLING_INTERVAL_US = 100;
/** Generous: on a busy machine the inspector proxy can take seconds to answer. */
const INSPECTOR_TIMEOUT_MS = 30_000;
/** Attempts at opening the session, each reading the target anew, with a growing pause between them. */
const CONNECT_ATTEMPTS = 3;

type CallFrame = { functionName: string; scriptId: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
export type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

export type Profiler = {
  /** Profiles while `run` runs; returns sampled ms by where it was spent (see `attribute`). */
  during(run: () => Promise<void>): Promise<Map<string, number>>;
  close(): void;
};

/**
 * One inspector session per server, to be opened as soon as it is up and kept for the whole run.
 * wrangler dev's inspector proxy has the runtime report every `console.log` line to it and, while
 * no DevTools client is attached, queues them all; the next client to attach is handed the whole
 * queue before its connection is even accepted. After a full run's load (three lines per sign-in,
 * tens of thousands in all) that took longer than any timeout. So the session is opened before
 * any load and turns the Runtime domain off at once: no line is reported, queued or relayed (the
 * lines still go to the server's log, through workerd's output). The edge has no such relay
 * either, so the Worker's CPU is measured without it.
 */
export async function openProfiler(inspectorPort: number): Promise<Profiler> {
  const inspector = await connect(inspectorPort);
  try {
    await inspector.send("Runtime.disable");
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: SAMPLING_INTERVAL_US });
  } catch (error) {
    inspector.close();
    throw error;
  }
  const modules = new Map<string, ModuleStarts>();
  return {
    async during(run) {
      await inspector.send("Profiler.start");
      await run();
      const { profile } = await inspector.send<{ profile: CpuProfile }>("Profiler.stop");
      // The debugger only between windows: it would slow the Worker down while being measured.
      const unread = [...new Set(profile.nodes.map((node) => node.callFrame.scriptId))].filter(
        (id) => id !== "0" && !modules.has(id),
      );
      if (unread.length > 0) {
        await inspector.send("Debugger.enable");
        for (const scriptId of unread) {
          const { scriptSource } = await inspector.send<{ scriptSource?: string }>("Debugger.getScriptSource", {
            scriptId,
          });
          modules.set(scriptId, moduleStarts(scriptSource ?? ""));
        }
        await inspector.send("Debugger.disable");
      }
      return attribute(profile, modules);
    },
    close: () => inspector.close(),
  };
}

/** The DevTools session, retried with the target read anew: a proxy still starting may refuse or drop the first. */
async function connect(port: number) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(port);
    } catch (error) {
      if (attempt >= CONNECT_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, attempt * 1_000));
    }
  }
}

async function connectOnce(port: number) {
  const listing = await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(INSPECTOR_TIMEOUT_MS) });
  const url = ((await listing.json()) as { webSocketDebuggerUrl: string }[])[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  // The inspector proxy refuses a WebSocket without an Origin; Node's WebSocket takes headers here.
  const socket = new WebSocket(url, { headers: { origin: "http://127.0.0.1" } } as unknown as string[]);
  const waiting = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  // The proxy takes one client at a time and closes any other (1013); whatever closes the
  // session fails the calls waiting on it at once, with the reason, instead of at their timeouts.
  let closed: Error | undefined;
  socket.addEventListener("close", (event) => {
    closed = new Error(`inspector session on port ${port} closed (${event.code} ${event.reason})`.trim());
    for (const { reject } of waiting.values()) reject(closed);
    waiting.clear();
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(`inspector connection to ${url} ${why}`));
    };
    const timer = setTimeout(() => fail(`timed out after ${INSPECTOR_TIMEOUT_MS / 1000}s`), INSPECTOR_TIMEOUT_MS);
    socket.addEventListener("open", () => resolve(clearTimeout(timer)), { once: true });
    socket.addEventListener("error", () => fail("failed"), { once: true });
  });
  let nextId = 0;
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.resolve(message.result);
  });
  const send = <T>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      if (closed) return reject(closed);
      const id = ++nextId;
      // Stopping the profiler serialises the whole profile: give it time, but not forever.
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`inspector: no answer to ${method} within ${INSPECTOR_TIMEOUT_MS / 1000}s`));
      }, INSPECTOR_TIMEOUT_MS);
      const settle = () => {
        clearTimeout(timer);
        waiting.delete(id);
      };
      waiting.set(id, {
        resolve: (result) => {
          settle();
          resolve(result as T);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      socket.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => socket.close() };
}

/** Module start lines of one script, sorted: [line, module path]. */
type ModuleStarts = [number, string][];

/** esbuild marks where each module starts in an unminified bundle: `// src/app.ts`, `// node_modules/hono/dist/…`. */
export function moduleStarts(source: string): ModuleStarts {
  const starts: ModuleStarts = [];
  source.split("\n").forEach((line, index) => {
    const marker = /^\/\/ ((?:\.\.\/)*[\w@.+-]+(?:\/[\w@.+-]+)*\.[cm]?[jt]sx?)$/.exec(line);
    if (marker?.[1]) starts.push([index, marker[1]]);
  });
  return starts;
}

function moduleAt(starts: ModuleStarts | undefined, line: number): string | null {
  let found: string | null = null;
  for (const [start, path] of starts ?? []) {
    if (start > line) break;
    found = path;
  }
  return found;
}

/** Where a sample is counted, by the module of the frame it ran in. */
export function categoryOf(path: string): string {
  if (path.includes("src/durable-objects/")) return DURABLE_OBJECTS;
  if (path.includes("wrangler/templates/") || path.includes(".wrangler/")) return DEV_WRAPPER;
  const ours = /(?:^|\/)src\/([\w-]+)/.exec(path);
  if (ours && !path.includes("node_modules/")) {
    const area = ours[1] ?? "";
    if (area === "middleware") return "ours: middleware";
    if (area === "observability") return "ours: logs and metrics";
    if (area === "crypto" || area === "config") return "ours: keys and configuration";
    return "ours: routes, ceremonies, storage";
  }
  const pkg = /node_modules\/((?:@[\w.-]+\/)?[\w.-]+)/.exec(path)?.[1] ?? "";
  if (
    /^(@simplewebauthn|@peculiar|@levischuck|@hexagon|asn1js|pvtsutils|pvutils|tsyringe|tslib|reflect-metadata)/.test(
      pkg,
    )
  ) {
    return "library: @simplewebauthn/server (with its ASN.1, CBOR, X.509 parts)";
  }
  if (pkg === "hono" || pkg === "@hono/zod-validator") return "library: hono";
  if (pkg === "zod" || pkg === "drizzle-orm" || pkg === "jose") return `library: ${pkg}`;
  if (pkg) return "library: others";
  // The peer's own code: its bundle names bench/peer-worker/worker.ts relative to its config.
  return path === "worker.ts" ? "peer's own code (worker.ts)" : "other bundled code";
}

export const DURABLE_OBJECTS = "our Durable Objects (the objects' CPU on the edge, not the Worker's)";
export const DEV_WRAPPER = "wrangler dev's wrapper (not on the edge)";
export const GARBAGE_COLLECTION = "garbage collection";
export const PROGRAM = "(program): the runtime, no JavaScript on the stack";
/** Counted in the isolate's CPU but outside the Worker's own figure. */
export const notTheWorkers = new Set([DURABLE_OBJECTS, DEV_WRAPPER]);

/**
 * The time one sample stands for. workerd samples an isolate only while it runs, so the delta
 * before the first sample of a burst of work spans the idle gap before it: deltas are not CPU.
 * Each sample counts for the sampler's actual period instead, the median delta within bursts.
 */
export function samplePeriodMs(profile: CpuProfile): number {
  const inBursts = profile.timeDeltas.filter((d) => d > 0 && d <= 10 * SAMPLING_INTERVAL_US).sort((a, b) => a - b);
  return (inBursts[inBursts.length >> 1] ?? SAMPLING_INTERVAL_US) / 1000;
}

/**
 * Sampled ms by category. A sample in native code or the runtime's own JavaScript (crypto,
 * D1 and RPC clients) is counted where it was called from; anything in a Durable Object's stack
 * is the object's. `(idle)` and `(program)` (the thread outside this isolate) are left out.
 */
export function attribute(profile: CpuProfile, modules: Map<string, ModuleStarts>): Map<string, number> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const categoryOfNode = new Map<number, string | null>();
  const resolve = (id: number): string | null => {
    if (categoryOfNode.has(id)) return categoryOfNode.get(id) ?? null;
    const frame = nodes.get(id)?.callFrame;
    let category: string | null = null;
    if (frame?.functionName === "(garbage collector)") category = GARBAGE_COLLECTION;
    else if (frame?.functionName === "(program)") category = PROGRAM;
    else if (frame && !frame.functionName.startsWith("(")) {
      const path = moduleAt(modules.get(frame.scriptId), frame.lineNumber);
      const own = path ? categoryOf(path) : null;
      const up = parent.get(id);
      const caller = up === undefined ? null : resolve(up);
      // A Durable Object's stack is the object's all the way up; native and runtime frames are
      // their caller's; the outermost frame with no module is the runtime's.
      category = caller === DURABLE_OBJECTS ? caller : (own ?? caller ?? (frame.url ? "runtime" : "runtime (native)"));
    }
    categoryOfNode.set(id, category);
    return category;
  };
  const period = samplePeriodMs(profile);
  const totals = new Map<string, number>();
  for (const id of profile.samples) {
    const category = resolve(id);
    if (category) totals.set(category, (totals.get(category) ?? 0) + period);
  }
  return totals;
}
