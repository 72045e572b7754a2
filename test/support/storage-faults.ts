import type { RoundTripKind } from "../../bench/instrumentation/round-trip-header";
import type { RoundTripObserver } from "../../bench/instrumentation/storage-round-trips";

/**
 * How one storage call fails:
 * - "rejected": the call's promise rejects, nothing was done (a D1 query that timed out);
 * - "thrown": the call throws before returning a promise (a stub whose object was reset);
 * - "lost": the call is made and takes effect, then its answer is lost (the write committed,
 *   the connection dropped on the way back).
 */
export const faultModes = ["rejected", "thrown", "lost"] as const;
export type FaultMode = (typeof faultModes)[number];

export type InjectedFault = { call: number; kind: RoundTripKind; mode: FaultMode };

/** What the runtime says when D1 or a Durable Object fails, so the app sees its real shapes. */
function storageError(kind: RoundTripKind, call: number): Error {
  if (kind === "d1-read" || kind === "d1-write") {
    const message = `injected fault ${call}: Network connection lost.`;
    return new Error(`D1_ERROR: ${message}`, { cause: new Error(message) });
  }
  const error = new Error(`injected fault ${call}: Durable Object reset because its code was updated.`);
  return Object.assign(error, { retryable: true });
}

/**
 * Sees every storage call the app makes through the bindings it hands out (D1 queries and
 * batches, Durable Object stub calls: the round trips of bench/instrumentation/storage-round-trips.ts),
 * numbers them from 1 across requests, and makes call `failAt` (or each of several) fail in
 * `mode`. Counting, not a script of expected calls: whatever the code calls, in whatever order,
 * gets walked. The app runs over it as `testWorker({ faults })` (test/support/test-worker.ts);
 * each request runs to the end of its waitUntil work (a retried write) before the next starts.
 */
export class StorageFaults implements RoundTripObserver {
  readonly calls: RoundTripKind[] = [];
  /** The first fault injected. */
  injected: InjectedFault | undefined;
  readonly #failAt: readonly number[];

  constructor(
    failAt: number | readonly number[] = [],
    private readonly mode: FaultMode = "rejected",
  ) {
    this.#failAt = typeof failAt === "number" ? [failAt] : failAt;
  }

  time<T>(kind: RoundTripKind, call: () => Promise<T>): Promise<T> {
    const number = this.calls.push(kind);
    if (!this.#failAt.includes(number)) return call();
    this.injected ??= { call: number, kind, mode: this.mode };
    const error = storageError(kind, number);
    switch (this.mode) {
      case "thrown":
        throw error;
      case "rejected":
        return Promise.reject(error);
      case "lost":
        return call().then(() => Promise.reject(error));
    }
  }
}
