import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { UserRow } from "../db/schema";
import { AppError } from "../errors";
import type { VerifiedSession } from "../sessions/session-tokens";
import type { AppEnv } from "./app-env";

export type AccountSession = { session: VerifiedSession; user: UserRow };

const invalidToken = () => new AppError("UNAUTHORIZED", "The session token is invalid or expired");

/**
 * The caller's session from `Authorization: Bearer …` and its account, or null when no token
 * was sent. A token that was sent but does not verify is an error, not an anonymous request;
 * so is one whose account was disabled or deleted since it was issued. That check (one indexed
 * read) is what makes disabling an account take effect here before its tokens expire.
 */
async function bearerSession(c: Context<AppEnv>): Promise<AccountSession | null> {
  const header = c.req.header("authorization");
  if (header === undefined) return null;
  const match = /^Bearer ([A-Za-z0-9_.-]{1,4096})$/.exec(header);
  const ports = c.get("ports");
  const session = match?.[1] ? await ports.sessions.verify(match[1]) : null;
  if (!session) throw invalidToken();
  const user = await ports.users.findById(session.userId);
  if (!user?.isActive) throw invalidToken();
  return { session, user };
}

/** For endpoints open to anyone that do more for a signed-in caller (adding a passkey). */
export async function optionalSession(c: Context<AppEnv>): Promise<VerifiedSession | null> {
  return (await bearerSession(c))?.session ?? null;
}

/** For the self-service endpoints: no token is 401 like a bad one. */
export async function requireSession(c: Context<AppEnv>): Promise<AccountSession> {
  const found = await bearerSession(c);
  if (!found) throw new AppError("UNAUTHORIZED", "A session token is required (Authorization: Bearer …)");
  return found;
}

/**
 * Middleware form of requireSession, for whole route groups: the caller is authenticated
 * before anything else about the request (its body, its ids) is looked at.
 */
export const signedIn = createMiddleware<AppEnv>(async (c, next) => {
  c.set("account", await requireSession(c));
  await next();
});
