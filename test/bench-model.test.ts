import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  formatRoundTrips,
  parseRoundTrips,
  parseWaitPath,
  type RoundTripKind,
} from "../bench/instrumentation/round-trip-header";
import { countedD1, RoundTripCounter } from "../bench/instrumentation/storage-round-trips";
import {
  type Call,
  callMs,
  type Design,
  EDGE_CLIENT_MS,
  edgeNetworks,
  latencyTable,
  type Network,
  signInMs,
  todaysDesign,
} from "../bench/model";

// The benchmark's modelled edge latency (bench/model.ts): pure arithmetic over the waits and CPU
// the bench measures, checked here without a server.
const network = (objectsMs: number, d1PrimaryMs: number, d1ReplicaMs = d1PrimaryMs): Network => ({
  name: "test",
  clientMs: 10,
  objectsMs,
  d1PrimaryMs,
  d1ReplicaMs,
});
const design = (calls: Call[]): Design => ({ name: "test", calls });

describe("modelled edge latency (bench/model.ts)", () => {
  it("a call costs the client's round trip, its CPU and each wait's slowest round trip", () => {
    const verify: Call = { route: "verify", waits: [["limiter"], ["challenge", "d1-read"], ["d1-write"]], cpuMs: 2 };
    // 10 + 2 + 3 + max(3, 60) + 60
    expect(callMs(verify, network(3, 60))).toBe(135);
  });

  it("calls made together cost one round trip, not one each", () => {
    const together: Call = { route: "x", waits: [["limiter", "d1-read"]], cpuMs: 0 };
    const apart: Call = { route: "x", waits: [["limiter"], ["d1-read"]], cpuMs: 0 };
    expect(callMs(together, network(5, 5))).toBe(15);
    expect(callMs(apart, network(5, 5))).toBe(20);
  });

  it("D1 reads go to a replica only through a session; writes always go to the primary", () => {
    const inSession: Call = { route: "x", waits: [["d1-session-read"], ["d1-write"]], cpuMs: 0 };
    const plain: Call = { route: "x", waits: [["d1-read"], ["d1-write"]], cpuMs: 0 };
    expect(callMs(inSession, network(3, 60, 5))).toBe(10 + 5 + 60);
    expect(callMs(plain, network(3, 60, 5))).toBe(10 + 60 + 60);
  });

  it("today's design: six waits per sign-in, so 1 ms more per wait costs 6 ms", () => {
    const at = (ms: number) => signInMs(todaysDesign, network(ms, ms));
    expect(todaysDesign.calls.flatMap((c) => c.waits)).toHaveLength(6);
    expect(at(6) - at(5)).toBeCloseTo(6);
  });

  it("the table has one column per edge network, and single-region rows that do not depend on it", () => {
    const twoWaits = design([{ route: "x", waits: [["limiter", "d1-read"], ["d1-write"]], cpuMs: 1 }]);
    const rows = latencyTable([todaysDesign, twoWaits], twoWaits);
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.cells).toHaveLength(edgeNetworks.length);
    const [today, build, near, far] = rows;
    // Fewer waits are never slower, at any round trip.
    for (const [i, ms] of (today?.cells ?? []).entries()) expect(build?.cells[i]).toBeLessThan(ms);
    expect(new Set(near?.cells).size).toBe(1);
    expect(far?.cells[0]).toBeGreaterThan(near?.cells[0] ?? Number.POSITIVE_INFINITY);
    // Storage 1 ms: client 10 + CPU 1 + 1 + 1.
    expect(build?.cells[0]).toBe(EDGE_CLIENT_MS + 3);
  });
});

describe("the waits the instrumentation reports (Server-Timing `path`)", () => {
  it("reads back what was written, in order, with calls made together grouped", () => {
    const path: Set<RoundTripKind>[] = [new Set(["limiter"]), new Set(["challenge", "d1-read"]), new Set(["d1-write"])];
    const header = formatRoundTrips(new Map(), path);
    expect(parseWaitPath(header)).toEqual([["limiter"], ["challenge", "d1-read"], ["d1-write"]]);
    expect(parseWaitPath(formatRoundTrips(new Map(), []))).toEqual([]);
    expect(parseWaitPath('waits;desc="2"')).toBeNull();
  });

  it("leaves out a wait still open when the response is ready (work the response did not wait for)", async () => {
    const counter = new RoundTripCounter();
    await Promise.all([counter.time("limiter", async () => {}), counter.time("d1-read", async () => {})]);
    let finish = () => {};
    const background = counter.time("d1-write", () => new Promise<void>((resolve) => (finish = resolve)));
    const header = counter.serverTiming();
    finish();
    await background;
    expect(parseWaitPath(header)).toEqual([["limiter", "d1-read"]]);
    expect(parseRoundTrips(header)).toMatchObject({ "d1-write": 1, waits: 1 });
    // Once it has finished before the response, it is a wait like any other.
    expect(parseWaitPath(counter.serverTiming())).toEqual([["limiter", "d1-read"], ["d1-write"]]);
  });

  it("counts D1 queries made through a Sessions API session, its reads as ones a replica may serve", async () => {
    const counter = new RoundTripCounter();
    const db = countedD1(env.DB, counter);
    await db.withSession("first-unconstrained").prepare("SELECT 1").first();
    await db.withSession("first-primary").prepare("SELECT 1").first();
    await db.prepare("SELECT 1").first();
    const header = counter.serverTiming();
    expect(parseWaitPath(header)).toEqual([["d1-session-read"], ["d1-read"], ["d1-read"]]);
    expect(parseRoundTrips(header)).toMatchObject({ "d1-read": 3, waits: 3 });
  });
});
