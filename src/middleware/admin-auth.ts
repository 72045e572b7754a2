import { createMiddleware } from "hono/factory";
import { AppError } from "../errors";
import type { AppEnv } from "../http/app-env";

const sha256 = async (text: string) =>
  new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));

/**
 * Operator endpoints (/api/v1/admin/*): `Authorization: Bearer <ADMIN_API_KEY>`. Without the
 * secret configured, nobody is an operator. Both sides are hashed first so the comparison is
 * constant-time over equal lengths and reveals nothing about the key's length.
 */
export const adminAuth = createMiddleware<AppEnv>(async (c, next) => {
  const key = c.get("config").secrets.adminApiKey;
  const match = /^Bearer (\S{1,512})$/.exec(c.req.header("authorization") ?? "");
  const given = match?.[1];
  if (typeof key !== "string" || key.length === 0 || given === undefined) {
    throw new AppError("UNAUTHORIZED", "An admin API key is required");
  }
  const [expected, actual] = await Promise.all([sha256(key), sha256(given)]);
  if (!crypto.subtle.timingSafeEqual(expected, actual)) {
    throw new AppError("UNAUTHORIZED", "An admin API key is required");
  }
  await next();
});
