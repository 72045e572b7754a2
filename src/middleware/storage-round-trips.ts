import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/app-env";
import { countedD1, countedNamespace, RoundTripCounter } from "../observability/storage-round-trips";

/**
 * With BENCH_INSTRUMENTATION on, hands the rest of the request bindings that count every
 * storage round trip (rate limiter, challenge object, D1 reads and writes) and reports them
 * in `Server-Timing`. Off (the default), it is one boolean check: no wrappers, no header.
 */
export const storageRoundTrips = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.get("config").benchInstrumentation) return next();
  const counter = new RoundTripCounter();
  c.env = {
    ...c.env,
    DB: countedD1(c.env.DB, counter),
    CHALLENGES: countedNamespace(c.env.CHALLENGES, "challenge", counter),
    RATE_LIMITER: countedNamespace(c.env.RATE_LIMITER, "limiter", counter),
  };
  await next();
  c.res.headers.set("Server-Timing", counter.serverTiming());
});
