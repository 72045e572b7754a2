// The load generators. Closed loop: a fixed number of clients, each running one ceremony after
// another until the ceremony or time budget is spent (throughput). Open loop: ceremonies started
// at a fixed rate whatever the server does (latency at a given load, without coordinated omission).
import { type CallRecord, CeremonyError } from "./ceremonies";

export type LoadBudget = { concurrency: number; maxCeremonies: number; maxSeconds: number };

export type CeremonyRecord = { ms: number; ok: boolean; calls: CallRecord[]; error?: string };

export type LoadResult = LoadBudget & { elapsedSeconds: number; ceremonies: CeremonyRecord[] };

/**
 * Runs `ceremony(index, worker)` for index 0, 1, 2, … on `concurrency` workers. A worker
 * starts a new ceremony only while both budgets last, so the run ends by itself.
 */
export async function runLoad(
  budget: LoadBudget,
  ceremony: (index: number, worker: number) => Promise<CallRecord[]>,
): Promise<LoadResult> {
  const ceremonies: CeremonyRecord[] = [];
  const started = performance.now();
  const deadline = started + budget.maxSeconds * 1000;
  let next = 0;

  async function worker(id: number) {
    while (next < budget.maxCeremonies && performance.now() < deadline) {
      const index = next++;
      const begun = performance.now();
      try {
        const calls = await ceremony(index, id);
        ceremonies.push({ ms: performance.now() - begun, ok: true, calls });
      } catch (error) {
        const calls = error instanceof CeremonyError ? error.calls : [];
        ceremonies.push({ ms: performance.now() - begun, ok: false, calls, error: (error as Error).message });
      }
    }
  }

  await Promise.all(Array.from({ length: budget.concurrency }, (_, id) => worker(id)));
  return { ...budget, elapsedSeconds: (performance.now() - started) / 1000, ceremonies };
}

/**
 * Starts ceremony `index` every 1/rate s for `seconds`; each latency counts from when it was due
 * to start, so a server that falls behind pays for its queue. `user(index)` names the user of a
 * ceremony: one user's ceremonies run one after another (two sign-ins racing on one passkey's
 * counter would rightly be refused), a wait that counts in the latency too.
 */
export async function runOpenLoop(
  rate: number,
  seconds: number,
  user: (index: number) => number,
  ceremony: (index: number) => Promise<CallRecord[]>,
): Promise<LoadResult> {
  const ceremonies: CeremonyRecord[] = [];
  const lanes = new Map<number, Promise<void>>();
  const started = performance.now();
  const total = Math.max(1, Math.round(rate * seconds));
  const all: Promise<void>[] = [];
  for (let index = 0; index < total; index++) {
    const due = started + (index * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const lane = user(index);
    const run = (lanes.get(lane) ?? Promise.resolve()).then(async () => {
      try {
        const calls = await ceremony(index);
        ceremonies.push({ ms: performance.now() - due, ok: true, calls });
      } catch (error) {
        const calls = error instanceof CeremonyError ? error.calls : [];
        ceremonies.push({ ms: performance.now() - due, ok: false, calls, error: (error as Error).message });
      }
    });
    lanes.set(lane, run);
    all.push(run);
  }
  await Promise.all(all);
  return {
    concurrency: 0,
    maxCeremonies: total,
    maxSeconds: seconds,
    elapsedSeconds: (performance.now() - started) / 1000,
    ceremonies,
  };
}

export type LatencySummary = {
  count: number;
  errors: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
};

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

/** Throughput counts successes only; latencies are of successes (errors are counted apart). */
export function summarize(samples: { ms: number; ok: boolean }[], elapsedSeconds: number): LatencySummary {
  const good = samples
    .filter((s) => s.ok)
    .map((s) => s.ms)
    .sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    count: good.length,
    errors: samples.length - good.length,
    perSecond: Math.round((good.length / elapsedSeconds) * 10) / 10,
    p50: round(percentile(good, 50)),
    p90: round(percentile(good, 90)),
    p99: round(percentile(good, 99)),
    max: round(good.at(-1) ?? Number.NaN),
  };
}
