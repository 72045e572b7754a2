// `npm run bench -- --profile`: a V8 CPU profile of the Worker's isolate while it serves
// ceremonies, taken through the DevTools inspector that `wrangler dev` exposes. The profile
// (.bench/worker.cpuprofile) opens in Chrome DevTools; the summary says where the time went.
// Profiling slows the Worker down: its figures are never mixed with the timed runs.

type CallFrame = { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame };
export type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

/** The profile, and the source of the scripts it sampled (to show what an anonymous function is). */
export type CapturedProfile = { profile: CpuProfile; sources: Map<string, string[]> };

export type ProfileSummary = {
  /** Sampled ms per ceremony, by where it was spent. */
  byCategory: { category: string; msPerCeremony: number }[];
  /** The functions with the most time of their own (not counting what they call). */
  topFunctions: { function: string; source: string; msPerCeremony: number }[];
};

/** Connects to the inspector, profiles while `run` runs, and returns the profile. */
export async function profileWhile(inspectorPort: number, run: () => Promise<void>): Promise<CapturedProfile> {
  const listing = await fetch(`http://127.0.0.1:${inspectorPort}/json`, { signal: AbortSignal.timeout(5_000) });
  const targets = (await listing.json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error("no inspector target");
  // The inspector proxy refuses a WebSocket without an Origin; Node's WebSocket takes headers here.
  const socket = new WebSocket(url, { headers: { origin: "http://127.0.0.1" } } as unknown as string[]);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("inspector connection timed out")), 5_000);
    socket.addEventListener(
      "open",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
    socket.addEventListener("error", () => reject(new Error("inspector connection failed")), { once: true });
  });
  let nextId = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  // Stopping the profiler serialises the whole profile: give it time, but not forever.
  const send = <T>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`inspector: no answer to ${method} within 30s`));
      }, 30_000);
      waiting.set(id, (result) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(result as T);
      });
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval: 200 });
    await send("Profiler.start");
    await run();
    const { profile } = await send<{ profile: CpuProfile }>("Profiler.stop");
    // The debugger only after profiling: it would slow the Worker down while being measured.
    await send("Debugger.enable");
    const sources = new Map<string, string[]>();
    for (const scriptId of new Set(profile.nodes.map((node) => node.callFrame.scriptId))) {
      if (scriptId === "0") continue;
      const { scriptSource } = await send<{ scriptSource?: string }>("Debugger.getScriptSource", { scriptId });
      if (scriptSource) sources.set(scriptId, scriptSource.split("\n"));
    }
    return { profile, sources };
  } finally {
    socket.close();
  }
}

export function summarizeProfile({ profile, sources }: CapturedProfile, ceremonies: number): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, { function: string; source: string; micros: number }>();
  profile.samples.forEach((nodeId, i) => {
    const frame = nodes.get(nodeId)?.callFrame;
    const micros = profile.timeDeltas[i] ?? 0;
    if (!frame) return;
    const category =
      frame.url === ""
        ? frame.functionName.startsWith("(")
          ? frame.functionName
          : // Calls into the runtime (RPC to Durable Objects, crypto, SQLite) show up as native frames
            // or, for RPC stubs, inside the JavaScript function that makes the call.
            "runtime (native) calls"
        : frame.url.startsWith("cloudflare-internal:")
          ? "runtime JavaScript (D1 client)"
          : "Worker JavaScript (our code, its libraries, and the RPC calls they make)";
    byCategory.set(category, (byCategory.get(category) ?? 0) + micros);
    const key = `${frame.functionName}@${frame.scriptId}:${frame.lineNumber}:${frame.columnNumber}`;
    // The start of the line the function begins on, e.g. `var rateLimit = createMiddleware(async (c, next) => {`.
    const line = sources.get(frame.scriptId)?.[frame.lineNumber]?.trim() ?? "";
    const source = line.length > 90 ? `${line.slice(0, 90)}…` : line;
    const entry = byFunction.get(key) ?? { function: frame.functionName || "(anonymous)", source, micros: 0 };
    entry.micros += micros;
    byFunction.set(key, entry);
  });
  const perCeremony = (micros: number) => Math.round((micros / 1000 / Math.max(1, ceremonies)) * 1000) / 1000;
  return {
    byCategory: [...byCategory]
      .sort((a, b) => b[1] - a[1])
      .map(([category, micros]) => ({ category, msPerCeremony: perCeremony(micros) })),
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.micros - a.micros)
      .slice(0, 25)
      .map((f) => ({ function: f.function, source: f.source, msPerCeremony: perCeremony(f.micros) })),
  };
}
