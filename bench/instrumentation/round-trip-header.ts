// The Server-Timing format the round-trip instrumentation (./storage-round-trips.ts) writes and
// its readers (the bench, the tests) parse. No Worker types here, so Node code can import it.

/** The storage a request can wait on: each call is one network round trip on the edge. */
export const roundTripKinds = ["limiter", "challenge", "d1-read", "d1-write"] as const;
export type RoundTripKind = (typeof roundTripKinds)[number];

/**
 * Calls per kind, and `waits`: how many times the request waited on storage with nothing else
 * in flight. Calls made together count as one wait; on the edge, latency grows with waits.
 */
export type RoundTrips = Record<RoundTripKind | "waits", number>;

/**
 * What a wait in `path` names: the kinds, and `d1-session-read`, a D1 read made through a
 * Sessions API session that may be served by a read replica (counted as a `d1-read` above).
 */
export const waitLabels = [...roundTripKinds, "d1-session-read"] as const;
export type WaitLabel = (typeof waitLabels)[number];
const metrics = [...roundTripKinds, "waits"] as const;

/**
 * `Server-Timing` value: one metric per kind, the call count as its description; `waits`; and
 * `path`, the kinds of each wait in order (e.g. `limiter|challenge+d1-read|d1-write`).
 */
export function formatRoundTrips(
  counts: Map<RoundTripKind, { calls: number; ms: number }>,
  path: ReadonlySet<WaitLabel>[],
): string {
  const kinds = roundTripKinds.map((kind) => {
    const { calls, ms } = counts.get(kind) ?? { calls: 0, ms: 0 };
    return `${kind};dur=${ms.toFixed(1)};desc="${calls}"`;
  });
  const waitPath = path.map((wait) => [...wait].join("+")).join("|");
  return [...kinds, `waits;desc="${path.length}"`, `path;desc="${waitPath}"`].join(", ");
}

/** The `path` metric: per wait, the storage waited on together ([] when none). */
export function parseWaitPath(header: string | null): WaitLabel[][] | null {
  const match = header?.match(/(?:^|,)\s*path;desc="([^"]*)"/);
  if (!match) return null;
  const known = (label: string): label is WaitLabel => (waitLabels as readonly string[]).includes(label);
  return (match[1] ?? "")
    .split("|")
    .filter(Boolean)
    .map((wait) => wait.split("+").filter(known));
}

/** Parses what `formatRoundTrips` wrote; metrics of other names are ignored. */
export function parseRoundTrips(header: string | null): RoundTrips | null {
  if (!header) return null;
  const counts = Object.fromEntries(metrics.map((name) => [name, 0])) as RoundTrips;
  let seen = false;
  for (const metric of header.split(",")) {
    const [name = "", ...params] = metric.trim().split(";");
    if (!(metrics as readonly string[]).includes(name)) continue;
    const desc = params.map((p) => p.trim()).find((p) => p.startsWith("desc="));
    const value = Number(desc?.slice("desc=".length).replaceAll('"', ""));
    if (Number.isInteger(value)) {
      counts[name as keyof RoundTrips] = value;
      seen = true;
    }
  }
  return seen ? counts : null;
}
