import { formatRoundTrips, type RoundTripKind, roundTripKinds, type WaitLabel } from "./round-trip-header";

// Readers of the header (tests) import it from here too.
export { parseRoundTrips, type RoundTrips } from "./round-trip-header";

/**
 * Sees every storage round trip of the bindings wrapped below: `call` makes it. The counter is
 * the one production use; the tests' fault injection (test/support/storage-faults.ts) another.
 */
export type RoundTripObserver = {
  /** `label` says where a wait's call went (e.g. a read a replica may serve); `kind` by default. */
  time<T>(kind: RoundTripKind, call: () => Promise<T>, label?: WaitLabel): Promise<T>;
};

/**
 * Counts one request's storage round trips and the time spent waiting on them. Only built when
 * BENCH_INSTRUMENTATION is on; production requests never see these wrappers.
 */
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

  async time<T>(kind: RoundTripKind, call: () => Promise<T>, label: WaitLabel = kind): Promise<T> {
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
