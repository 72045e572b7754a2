import { createMiddleware } from "hono/factory";
import { AppError } from "../errors";
import type { AppEnv } from "../http/app-env";
import { clientKey } from "../http/client-address";
import { securityEventLog } from "../observability/security-events";

const sha256 = async (text: string) =>
  new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));

/**
 * Operator endpoints (/api/v1/admin/*): `Authorization: Bearer <ADMIN_API_KEY>`. Without the
 * secret configured, nobody is an operator. Both sides are hashed first so the comparison is
 * constant-time over equal lengths and reveals nothing about the key's length.
 */
export const adminAuth = createMiddleware<AppEnv>(async (c, next) => {
  const key = c.get("config").secrets.adminApiKey;
  const match = /^Bearer (\S{1,4096})$/.exec(c.req.header("authorization") ?? "");
  const given = match?.[1];
  // Refused calls are security events too, so key guessing shows in the audit trail.
  const refuse = (reason: string) => {
    securityEventLog(c.get("logger"), c.get("metrics")).record({
      event: "admin_auth_failed",
      outcome: "failure",
      reason,
      client: clientKey(c.req.header("cf-connecting-ip")),
    });
    return new AppError("UNAUTHORIZED", "An admin API key is required");
  };
  if (typeof key !== "string" || key.length === 0) throw refuse("admin_api_disabled");
  if (given === undefined) throw refuse("no_admin_key");
  const [expected, actual] = await Promise.all([sha256(key), sha256(given)]);
  if (!crypto.subtle.timingSafeEqual(expected, actual)) throw refuse("wrong_admin_key");
  await next();
});
