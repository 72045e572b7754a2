import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../http/app-env";

type Handler = ReturnType<typeof secureHeaders>;
const byMaxAge = new Map<number, Handler>();

/** Hono's secure headers, with HSTS from HSTS_MAX_AGE and a CSP that allows nothing (JSON only). */
export const securityHeaders = createMiddleware<AppEnv>(async (c, next) => {
  const maxAge = c.get("config").hstsMaxAge;
  let handler = byMaxAge.get(maxAge);
  if (!handler) {
    handler = secureHeaders({
      strictTransportSecurity: `max-age=${maxAge}; includeSubDomains`,
      xFrameOptions: "DENY",
      referrerPolicy: "no-referrer",
      crossOriginResourcePolicy: "same-site",
      contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    });
    byMaxAge.set(maxAge, handler);
  }
  return handler(c, next);
});
