// The modelled edge latency table: how long one sign-in takes from a client's view when every
// storage wait costs a network round trip, computed from what the bench measures locally (the
// waits of each call, from the instrumented entry's `path`, and the CPU of each call). Pure: no
// I/O, so test/bench-model.test.ts checks it without a server.
//
// A call's latency = the client's round trip to the server + its CPU + for each wait, the slowest
// round trip waited on in it (calls made together cost the slowest of them, not their sum).
// A sign-in is two calls (options, then verify); the client's own signing is left out.

/**
 * What a call waits on (`WaitLabel` in bench/instrumentation/round-trip-header.ts): Durable Objects,
 * D1 reads and writes at the primary, and reads through a D1 session, which a replica may serve.
 */
export type StorageKind = "limiter" | "challenge" | "d1-read" | "d1-write" | "d1-session-read";

export type Call = {
  route: string;
  /** In order: the kinds waited on together in each wait. */
  waits: StorageKind[][];
  /** CPU in the Worker per call, ms. */
  cpuMs: number;
};

/** One design of the sign-in: its calls, in order; a note for the reader on where a figure comes from. */
export type Design = { name: string; calls: Call[]; note?: string };

/** Round trips in ms. */
export type Network = {
  name: string;
  /** Client to the server (the nearest colo on the edge). */
  clientMs: number;
  /** Durable Objects (the limiter, challenge objects). */
  objectsMs: number;
  /** D1's primary: every write, and reads outside a session. */
  d1PrimaryMs: number;
  /** A D1 read replica, for reads through a Sessions API session. */
  d1ReplicaMs: number;
};

export function storageMs(kind: StorageKind, network: Network): number {
  if (kind === "limiter" || kind === "challenge") return network.objectsMs;
  return kind === "d1-session-read" ? network.d1ReplicaMs : network.d1PrimaryMs;
}

export function callMs(call: Call, network: Network): number {
  const waiting = call.waits.reduce((sum, wait) => sum + Math.max(0, ...wait.map((k) => storageMs(k, network))), 0);
  return network.clientMs + call.cpuMs + waiting;
}

/** One sign-in (every call of the design, one after the other), ms. */
export function signInMs(design: Design, network: Network): number {
  return design.calls.reduce((sum, call) => sum + callMs(call, network), 0);
}

/** Client round trip to the nearest colo in every edge column (typical for a client near a city). */
export const EDGE_CLIENT_MS = 10;

/** The edge columns of the table: the round-trip assumptions. */
export const edgeNetworks: Network[] = [1, 5, 20]
  .map((ms) => ({
    name: `storage ${ms} ms`,
    clientMs: EDGE_CLIENT_MS,
    objectsMs: ms,
    d1PrimaryMs: ms,
    d1ReplicaMs: ms,
  }))
  .concat({
    name: "objects 3 ms, D1 primary 60 ms, replica 5 ms",
    clientMs: EDGE_CLIENT_MS,
    objectsMs: 3,
    d1PrimaryMs: 60,
    d1ReplicaMs: 5,
  });

/**
 * A single-region server: the same calls, its storage in the same data centre (0.5 ms), so its
 * latency is set by how far the client is from that one region, whatever the edge column.
 */
export const singleRegionNetworks: Network[] = [
  { name: "client in the region (10 ms)", clientMs: 10, objectsMs: 0.5, d1PrimaryMs: 0.5, d1ReplicaMs: 0.5 },
  { name: "client on another continent (150 ms)", clientMs: 150, objectsMs: 0.5, d1PrimaryMs: 0.5, d1ReplicaMs: 0.5 },
];

/**
 * Today's design (commit 58c5aa5, before issue 10's reshaping), recorded so the table keeps it
 * beside whatever this build measures: options = limiter, then the D1 read, then the new
 * challenge object; verify = limiter, then (take the challenge || read the credential), then the
 * counter write. CPU per call as measured by this bench on that commit (full run, 2026-12-03, on
 * a busy 2-core VM: indicative).
 */
export const todaysDesign: Design = {
  name: "today's design (recorded)",
  calls: [
    { route: "authentication/challenge", waits: [["limiter"], ["d1-read"], ["challenge"]], cpuMs: 2.3 },
    { route: "authentication/verify", waits: [["limiter"], ["challenge", "d1-read"], ["d1-write"]], cpuMs: 2.8 },
  ],
};

export type ModelRow = { design: string; cells: number[] };

/** The table: rows = designs (then the single-region rows for the last one), columns = edgeNetworks. */
export function latencyTable(designs: Design[], singleRegion: Design): ModelRow[] {
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return [
    ...designs.map((design) => ({
      design: design.name,
      cells: edgeNetworks.map((network) => round(signInMs(design, network))),
    })),
    ...singleRegionNetworks.map((network) => ({
      design: `single-region server, ${network.name}`,
      cells: edgeNetworks.map(() => round(signInMs(singleRegion, network))),
    })),
  ];
}
