import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../http/app-env";

type Handler = ReturnType<typeof secureHeaders>;
type SecureHeadersOptions = NonNullable<Parameters<typeof secureHeaders>[0]>;

// Every response is JSON (or empty): a CSP that allows nothing, no framing, no referrer.
const base = {
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
  crossOriginResourcePolicy: "same-site",
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
} satisfies SecureHeadersOptions;

// Per-isolate cache: one secureHeaders handler per HSTS max-age, built once instead of per
// request. It holds one entry in practice (the configured HSTS_MAX_AGE), derived from config only.
const byMaxAge = new Map<number, Handler>();
// Without a valid configuration the operator's HSTS_MAX_AGE is unknown: better no HSTS on
// that error response than pinning a domain for a year against their wishes.
const withoutHsts = secureHeaders({ ...base, strictTransportSecurity: false });

function handlerFor(maxAge: number | undefined): Handler {
  if (maxAge === undefined) return withoutHsts;
  let handler = byMaxAge.get(maxAge);
  if (!handler) {
    handler = secureHeaders({ ...base, strictTransportSecurity: `max-age=${maxAge}; includeSubDomains` });
    byMaxAge.set(maxAge, handler);
  }
  return handler;
}

/**
 * Hono's secure headers on every response, errors and CORS preflights included. Mounted
 * before the configuration middleware, so it applies the headers once the response exists:
 * a CONFIGURATION_ERROR answer gets them too.
 */
export const securityHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  // c.get("config") is unset only when the configuration itself failed to parse.
  const maxAge = (c.get("config") as AppEnv["Variables"]["config"] | undefined)?.hstsMaxAge;
  // A route that answers a page (the API reference, src/routes/api-reference.ts) sets the policy
  // that page needs; every other answer, errors included, gets the allow-nothing one.
  const pagePolicy = c.res.status < 400 ? c.res.headers.get("content-security-policy") : null;
  await handlerFor(maxAge)(c, async () => {});
  if (pagePolicy) c.res.headers.set("Content-Security-Policy", pagePolicy);
});
