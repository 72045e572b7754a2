import type { Context } from "hono";
import { AppError } from "../errors";
import type { VerifiedSession } from "../sessions/session-tokens";
import type { AppEnv } from "./app-env";

/**
 * The caller's session from `Authorization: Bearer …`, or null when none was sent.
 * A token that was sent but does not verify is an error, not an anonymous request.
 */
export async function optionalSession(c: Context<AppEnv>): Promise<VerifiedSession | null> {
  const header = c.req.header("authorization");
  if (header === undefined) return null;
  const match = /^Bearer ([A-Za-z0-9_.-]{1,4096})$/.exec(header);
  const session = match?.[1] ? await c.get("ports").sessions.verify(match[1]) : null;
  if (!session) throw new AppError("UNAUTHORIZED", "The session token is invalid or expired");
  return session;
}
