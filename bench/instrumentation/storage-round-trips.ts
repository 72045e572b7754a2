import { formatRoundTrips, type RoundTripKind, roundTripKinds, type WaitLabel } from "./round-trip-header";

// Storage round trips counted from outside the app: bindings that see every call, put into the
// Worker's `env` before the app runs. The bench's instrumented entry (./worker.ts) and the
// tests' harness (test/support/test-worker.ts) use them; src/ knows nothing of them.

// Readers of the header (tests) import it from here too.
export { parseRoundTrips, type RoundTrips } from "./round-trip-header";

/**
 * Sees every storage round trip of the bindings wrapped below: `call` makes it. The counter is
 * one use; the tests' fault injection (test/support/storage-faults.ts) another.
 */
export type RoundTripObserver = {
  /** `label` says where a wait's call went (e.g. a read a replica may serve); `kind` by default. */
  time<T>(kind: RoundTripKind, call: () => Promise<T>, label?: WaitLabel): Promise<T>;
};

/** Counts one request's storage round trips and the time spent waiting on them. */
export class RoundTripCounter implements RoundTripObserver {
  readonly #counts = new Map<RoundTripKind, { calls: number; ms: number }>(
    roundTripKinds.map((kind) => [kind, { calls: 0, ms: 0 }]),
  );
  #inFlight = 0;
  /**
   * Per wait (a stretch with calls in flight), the kinds of its calls that have finished: what
   * `npm run bench` models latency from. Read when the response is ready, so work the response
   * did not wait for (still in flight then, e.g. handed to waitUntil) is not a wait.
   */
  readonly #path: Set<WaitLabel>[] = [];
  #answered = false;

  /** The response is built: calls from here on (work handed to waitUntil) are not the request's. */
  answered(): void {
    this.#answered = true;
  }

  async time<T>(kind: RoundTripKind, call: () => Promise<T>, label: WaitLabel = kind): Promise<T> {
    if (this.#answered) return call();
    const entry = this.#counts.get(kind) ?? { calls: 0, ms: 0 };
    entry.calls += 1;
    if (this.#inFlight++ === 0) this.#path.push(new Set());
    const wait = this.#path.at(-1);
    const started = performance.now();
    try {
      return await call();
    } finally {
      this.#inFlight -= 1;
      wait?.add(label);
      // Workers clocks advance across I/O, which is exactly what is being timed here.
      entry.ms += performance.now() - started;
      this.#counts.set(kind, entry);
    }
  }

  /** `Server-Timing` value: one metric per kind, the call count as its description. */
  serverTiming(): string {
    return formatRoundTrips(
      this.#counts,
      this.#path.filter((wait) => wait.size > 0),
    );
  }
}

// Drizzle writes every query as one statement; a leading SELECT (or a WITH that writes
// nothing) is a read, anything else a write.
const kindOf = (sql: string): RoundTripKind =>
  /^\s*(select|with)\b/i.test(sql) && !/\b(insert|update|delete|replace)\b/i.test(sql) ? "d1-read" : "d1-write";

// Statements we wrapped: the real one D1's batch expects, and what kind of round trip it is.
const wrappedStatements = new WeakMap<object, { real: D1PreparedStatement; kind: RoundTripKind }>();

/** A D1 binding whose every query, batch or exec counts as one read or one write round trip. */
export function countedD1(d1: D1Database, counter: RoundTripObserver, session = false): D1Database {
  // Reads in a session (unless it starts at the primary) may be served by a replica.
  const time = <T>(kind: RoundTripKind, call: () => Promise<T>) =>
    counter.time(kind, call, session && kind === "d1-read" ? "d1-session-read" : kind);
  const statement = (real: D1PreparedStatement, kind: RoundTripKind): D1PreparedStatement => {
    const wrapped = new Proxy(real, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        if (property === "bind") return (...values: unknown[]) => statement(target.bind(...values), kind);
        if (property === "first" || property === "all" || property === "raw" || property === "run") {
          return (...args: unknown[]) => time(kind, async () => Reflect.apply(value, target, args));
        }
        return value.bind(target);
      },
    });
    wrappedStatements.set(wrapped, { real, kind });
    return wrapped;
  };

  return new Proxy(d1, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "prepare") return (sql: string) => statement(target.prepare(sql), kindOf(sql));
      if (property === "batch") {
        // One batch is one round trip (and one transaction), a write if any statement writes.
        return (statements: D1PreparedStatement[]) => {
          const known = statements.map((s) => wrappedStatements.get(s) ?? { real: s, kind: "d1-write" as const });
          const kind = known.every((s) => s.kind === "d1-read") ? "d1-read" : "d1-write";
          return time(kind, () => target.batch(known.map((s) => s.real)));
        };
      }
      if (property === "exec") return (sql: string) => time("d1-write", () => target.exec(sql));
      // A Sessions API session (reads may go to a replica) has the same prepare and batch: counted alike.
      if (property === "withSession") {
        return (...args: Parameters<D1Database["withSession"]>) =>
          countedD1(target.withSession(...args) as unknown as D1Database, counter, args[0] !== "first-primary");
      }
      return value.bind(target);
    },
  });
}

/**
 * A Durable Object namespace whose stubs count every method call (an RPC round trip) as one
 * `kind`. Ids and names are local and not counted.
 */
export function countedNamespace<T extends object>(namespace: T, kind: RoundTripKind, counter: RoundTripObserver): T {
  const stub = (real: object) =>
    new Proxy(real, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function" || property === "then") return value;
        return (...args: unknown[]) => counter.time(kind, async () => Reflect.apply(value, target, args));
      },
    });
  return new Proxy(namespace, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "get" || property === "getByName") {
        return (...args: unknown[]) => stub(Reflect.apply(value, target, args));
      }
      return value.bind(target);
    },
  });
}

/** `env` with its storage bindings (D1, the challenge and limiter objects) seen by `observer`. */
export function countedEnv(env: Env, observer: RoundTripObserver): Env {
  return {
    ...env,
    DB: countedD1(env.DB, observer),
    CHALLENGES: countedNamespace(env.CHALLENGES, "challenge", observer),
    RATE_LIMITER: countedNamespace(env.RATE_LIMITER, "limiter", observer),
  };
}

type FetchHandler = (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;

/**
 * A fetch handler that runs `fetch` over counted bindings and reports each request's round trips
 * in `Server-Timing` (parseRoundTrips, parseWaitPath). The app hands work the answer need not
 * wait for to `ctx.waitUntil` once its response is built (src/middleware/deferred-work.ts), so the
 * first waitUntil ends the count: such work starts before `fetch` resolves but is not a wait.
 */
export function countRoundTrips(
  fetch: FetchHandler,
): (request: Request, env: Env, ctx: ExecutionContext) => Promise<Response> {
  return async (request, env, ctx) => {
    const counter = new RoundTripCounter();
    const answered = new Proxy(ctx, {
      get(target, property) {
        if (property === "waitUntil") {
          return (promise: Promise<unknown>) => {
            counter.answered();
            target.waitUntil(promise);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const response = await fetch(request, countedEnv(env, counter), answered);
    const timing = counter.serverTiming();
    counter.answered();
    const timed = new Response(response.body, response);
    timed.headers.set("Server-Timing", timing);
    return timed;
  };
}
