// Reference points measured in workerd with a Worker that does one kind of work at a time
// (bench/reference-worker), behind the same `wrangler dev` stack as our Worker:
// - the crypto limit: signature verifies per second in one isolate (workerd runs a Worker's
//   requests on one thread, so this is also the ceiling of the local server);
// - what one storage call costs locally (Durable Object RPC, a new Durable Object, D1 read, D1 write);
// - the wrangler dev floor: requests per second an empty Worker gets through the dev stack.
// Its requests go to /api/…, which its assets block (like ours) routes to the Worker: the same
// path through the assets router that every request to our API takes.
import { join } from "node:path";
import type { CallRecord } from "./ceremonies";
import { type LatencySummary, runLoad, summarize } from "./load";
import { type RunningServer, startWranglerDev } from "./servers";

export const algorithms = ["ES256", "EdDSA", "RS256"] as const;
export type CryptoLimit = {
  algorithm: (typeof algorithms)[number];
  /** crypto.subtle.verify with an imported key. */
  webcryptoPerSecond: number;
  /** SimpleWebAuthn's verifySignature from a COSE key: decode + import + verify, as per assertion. */
  simplewebauthnPerSecond: number;
};

export type StorageCallCost = {
  call: string;
  /** Wall time per call, one call at a time. */
  latencyMs: number;
  /** CPU per call in the Worker's workerd process (the local D1 and Durable Objects run there too). */
  cpuMs: number;
};

export type DevServerFloor = {
  concurrency: number;
  requests: LatencySummary;
  /** CPU ms per request, by process. */
  cpuMsPerRequest: Record<string, number>;
};

export type ReferencePoints = {
  cryptoLimit: CryptoLimit[];
  storageCalls: StorageCallCost[];
  devServerFloor: DevServerFloor[];
};

/** Each timed request runs at least minMs of work; the best of `rounds` is kept (least disturbed by neighbours). */
export type ProbeBudget = { minMs: number; rounds: number; floorSeconds: number; concurrencies: number[] };

const storageCalls = [
  ["do-call", "Durable Object RPC (existing object, does nothing)"],
  ["do-new", "Durable Object RPC to a new object: store a value, set an alarm"],
  ["d1-read", "D1 read (one row by primary key)"],
  ["d1-write", "D1 write (insert one row)"],
] as const;

const WORKER = "workerd (Worker)";
/** A probe does at most 100,000 calls, grown to about minMs of work: seconds, never this long. */
const PROBE_TIMEOUT_MS = 60_000;
/** One empty request of the floor run. */
const FLOOR_REQUEST_TIMEOUT_MS = 10_000;

export async function measureReferencePoints(
  workDir: string,
  stateDir: string,
  budget: ProbeBudget,
): Promise<ReferencePoints> {
  const server = await startWranglerDev({
    config: join("bench", "reference-worker", "wrangler.toml"),
    workDir,
    stateDir,
    readyPath: "/api/probe",
  });
  try {
    const time = async (query: string) => {
      const cpuBefore = server.cpuMs()[WORKER] ?? 0;
      const started = performance.now();
      const response = await fetch(`${server.url}/api/probe?${query}`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`reference worker: ${text}`);
      return { ms: performance.now() - started, cpuMs: (server.cpuMs()[WORKER] ?? 0) - cpuBefore };
    };
    // What a request costs with no work in it (loopback, proxy, routing): subtracted below.
    for (let i = 0; i < 5; i++) await time("op=none");
    const empty: number[] = [];
    for (let i = 0; i < 9; i++) empty.push((await time("op=none")).ms);
    const overheadMs = empty.sort((a, b) => a - b)[4] ?? 0;

    /** Grows n until one request does minMs of work, then keeps the fastest of a few rounds at that n. */
    const perCall = async (query: string) => {
      await time(`${query}&n=20`);
      let n = 16;
      let run = await time(`${query}&n=${n}`);
      while (run.ms - overheadMs < budget.minMs && n < 100_000) {
        n = Math.min(100_000, Math.ceil(n * Math.max(2, (budget.minMs / Math.max(1, run.ms - overheadMs)) * 1.2)));
        run = await time(`${query}&n=${n}`);
      }
      for (let round = 1; round < budget.rounds; round++) {
        const again = await time(`${query}&n=${n}`);
        if (again.ms < run.ms) run = again;
      }
      return { ms: Math.max(0.0001, run.ms - overheadMs) / n, cpuMs: run.cpuMs / n };
    };

    const cryptoLimit: CryptoLimit[] = [];
    for (const algorithm of algorithms) {
      const webcrypto = await perCall(`op=verify&alg=${algorithm}&mode=webcrypto`);
      const simplewebauthn = await perCall(`op=verify&alg=${algorithm}&mode=simplewebauthn`);
      cryptoLimit.push({
        algorithm,
        webcryptoPerSecond: Math.round(1000 / webcrypto.ms),
        simplewebauthnPerSecond: Math.round(1000 / simplewebauthn.ms),
      });
    }

    const storage: StorageCallCost[] = [];
    for (const [op, call] of storageCalls) {
      const cost = await perCall(`op=${op}`);
      storage.push({ call, latencyMs: round(cost.ms, 3), cpuMs: round(cost.cpuMs, 3) });
    }

    const devServerFloor: DevServerFloor[] = [];
    for (const concurrency of budget.concurrencies) {
      devServerFloor.push(await floor(server, concurrency, budget.floorSeconds));
    }
    return { cryptoLimit, storageCalls: storage, devServerFloor };
  } finally {
    await server.stop();
  }
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

async function floor(server: RunningServer, concurrency: number, seconds: number): Promise<DevServerFloor> {
  const before = server.cpuMs();
  const result = await runLoad(
    { concurrency, maxCeremonies: 1_000_000, maxSeconds: seconds },
    async (): Promise<CallRecord[]> => {
      const started = performance.now();
      try {
        const response = await fetch(`${server.url}/api/empty`, {
          headers: { "accept-encoding": "identity" },
          signal: AbortSignal.timeout(FLOOR_REQUEST_TIMEOUT_MS),
        });
        await response.arrayBuffer();
        const ms = performance.now() - started;
        return [{ endpoint: "empty", ms, ok: response.ok, status: response.status, roundTrips: null }];
      } catch {
        return [{ endpoint: "empty", ms: performance.now() - started, ok: false, status: 0, roundTrips: null }];
      }
    },
  );
  const after = server.cpuMs();
  const requests = Math.max(1, result.ceremonies.length);
  const cpuMsPerRequest = Object.fromEntries(
    Object.entries(after).map(([role, ms]) => [role, round((ms - (before[role] ?? 0)) / requests, 2)]),
  );
  return { concurrency, requests: summarize(result.ceremonies, result.elapsedSeconds), cpuMsPerRequest };
}
