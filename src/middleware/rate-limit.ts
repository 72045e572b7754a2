import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Config } from "../config/config";
import type { RateLimitBucket, RateLimiterNamespace, RateLimitVerdict } from "../durable-objects/rate-limiter";
import { AppError } from "../errors";
import type { AppEnv } from "../http/app-env";
import { clientOf } from "../http/client-address";
import { errorChain } from "../observability/error-chain";
import { securityEventLog } from "../observability/security-events";

/**
 * The budgets requests are counted in, each separately. Each verify call runs signature checks
 * and storage reads, and is where guessing would happen: it gets its own, stricter budget
 * (RATE_LIMIT_VERIFY_REQUESTS). The options calls and everything else under the API share
 * RATE_LIMIT_REQUESTS. The health check (a 429 there would read as an outage to a monitor) and
 * /.well-known (JWKS and related origins, fetched by app backends and browsers from shared
 * addresses and cacheable) are never limited: they are mounted without a limiter (src/app.ts).
 */
export type RouteGroup = "options" | "verify" | "api";

/**
 * How a route takes the verdict. By default it waits for it before anything else runs. With
 * `alongside`, the route asks for it itself (`admission`), together with its first storage
 * call, so the limiter costs no wait of its own: for the native ceremonies (which hold every
 * write until the verdict is in) and the self-service reads (which write nothing). `true` for
 * every method of the route, or the methods that do (a group mounted for several routes).
 */
export type RateLimitOptions = { alongside?: true | readonly string[] };

function limitOf(group: RouteGroup, rateLimit: Config["rateLimit"]): number {
  return group === "verify" ? rateLimit.verifyRequests : rateLimit.requests;
}

/** A client should come back after a limiter fault, but not in a tight loop. */
const FAULT_RETRY_AFTER_SECONDS = 5;

const alreadyAdmitted = () => Promise.resolve();

/**
 * Per-client sliding-window limit in `group`, one RateLimiter Durable Object round trip per
 * request, applied at the routes it governs (src/app.ts, src/routes/). Runs after CORS (so a
 * browser can read the 429 and its headers). Most requests wait for the verdict before anything
 * else; the hot paths (`alongside`) ask for it with their first storage call and change
 * nothing before it arrives, and their answer is a 429 whenever the verdict was a refusal,
 * whatever they would have answered. Every counted response carries the IETF draft
 * `RateLimit-Policy` and `RateLimit` fields; a refused one also `Retry-After`.
 */
export const rateLimit = (group: RouteGroup, { alongside }: RateLimitOptions = {}) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const asksItself = alongside === true || (alongside?.includes(c.req.method) ?? false);
    if (!asksItself) {
      await askLimiter(c, group);
      c.set("admission", alreadyAdmitted);
      return next();
    }

    // Asked for once, by whoever comes first (the handler, or this middleware afterwards).
    let verdict: Promise<void> | undefined;
    const admission = () => {
      if (!verdict) {
        verdict = askLimiter(c, group);
        // Observed here so a refusal nobody awaited yet is not reported as unhandled.
        verdict.catch(() => undefined);
      }
      return verdict;
    };
    c.set("admission", admission);
    await next();
    // A handler that failed before asking (a malformed body) still counts, and a refused request
    // is answered 429 whatever the handler said. A refusal it already answered is not thrown twice.
    await admission().catch((refusal: unknown) => {
      if (c.error !== refusal) throw refusal;
    });
  });

/**
 * Counts a request no route answers (a 404) in the "api" group, as the route it might have
 * been would: a client probing for paths spends its budget too.
 */
export const limitUnknownPath = (c: Context<AppEnv>): Promise<void> => askLimiter(c, "api");

/** Asks the limiter about this request in `group`; throws the refusal or the limiter's fault. */
async function askLimiter(c: Context<AppEnv>, group: RouteGroup): Promise<void> {
  const config = c.get("config");
  const limit = limitOf(group, config.rateLimit);
  const windowSeconds = config.rateLimit.windowSeconds;
  const { key: client, network } = clientOf(c.req.header("cf-connecting-ip"));
  const events = securityEventLog(c.get("logger"), c.get("metrics"));
  // An IPv6 /64 is counted in its /48's instance, beside the /48 as a whole: both buckets are
  // decided in the same call. Each is named with its policy (as RateLimit-Policy lists it).
  const policies: { name: string; bucket: string; limit: number }[] = [
    { name: group, bucket: `${group} ${client}`, limit },
  ];
  if (network !== null) {
    const factor = config.rateLimit.ipv6NetworkFactor;
    policies.push({ name: `${group}/48`, bucket: `${group} ${network}`, limit: limit * factor });
  }
  const buckets: RateLimitBucket[] = policies.map(({ bucket, limit }) => ({ name: bucket, limit }));

  let verdict: RateLimitVerdict;
  try {
    const namespace: RateLimiterNamespace = c.env.RATE_LIMITER;
    verdict = await namespace.get(namespace.idFromName(network ?? client)).hit(buckets, windowSeconds);
  } catch (error) {
    const failOpen = config.rateLimit.onError === "open";
    c.get("logger").log("error", {
      type: "rate_limiter_fault",
      requestId: c.get("requestId"),
      failMode: config.rateLimit.onError,
      error: errorChain(error),
    });
    events.record({
      event: "rate_limiter_fault",
      outcome: "failure",
      reason: failOpen ? "fail_open" : "fail_closed",
    });
    if (failOpen) return;
    c.header("Retry-After", String(FAULT_RETRY_AFTER_SECONDS));
    throw new AppError("SERVICE_UNAVAILABLE", "Request limits cannot be checked right now; retry shortly");
  }

  const policy = policies[verdict.bucket]?.name ?? group;
  c.header("RateLimit-Policy", policies.map((p) => `"${p.name}";q=${p.limit};w=${windowSeconds}`).join(", "));
  c.header("RateLimit", `"${policy}";r=${verdict.remaining};t=${verdict.resetSeconds}`);
  if (!verdict.allowed) {
    events.record({ event: "rate_limited", outcome: "failure", reason: policy, client });
    c.header("Retry-After", String(verdict.resetSeconds));
    throw new AppError("RATE_LIMIT_EXCEEDED", undefined, {
      details: { retryAfterSeconds: verdict.resetSeconds, limit: verdict.limit, windowSeconds },
    });
  }
}
