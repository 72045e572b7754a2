import { cors } from "hono/cors";
import type { AppEnv } from "../http/app-env";

/**
 * Browsers on CORS_ORIGINS may call the API; no other origin gets an Allow-Origin. No
 * Allow-Credentials: the API takes its session token in the Authorization header, never a
 * cookie, so browsers need not (and must not) send credentials cross-origin.
 */
export const corsPolicy = cors({
  origin: (origin, c: import("hono").Context<AppEnv>) => (c.get("config").corsOrigins.includes(origin) ? origin : null),
  allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
  allowHeaders: ["Content-Type", "Authorization"],
  exposeHeaders: ["X-Request-Id", "Retry-After", "RateLimit", "RateLimit-Policy"],
  maxAge: 600,
});
