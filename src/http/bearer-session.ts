import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { type SignedInAccount, signedInAccount } from "../accounts/session-account";
import { AppError } from "../errors";
import type { Services } from "../services";
import type { AppEnv, SessionEnv } from "./app-env";

const invalidToken = () => new AppError("UNAUTHORIZED");

/**
 * The caller's account from `Authorization: Bearer …`, or null when no token was sent. A token
 * that was sent but is not (or no longer) good is an error, not an anonymous request. For
 * endpoints open to anyone that do more for a signed-in caller (adding a passkey).
 */
export const optionalAccount = (c: Context<AppEnv>): Promise<SignedInAccount | null> =>
  accountOf(c.req.header("authorization"), c.get("ports"));

async function accountOf(header: string | undefined, ports: Services): Promise<SignedInAccount | null> {
  if (header === undefined) return null;
  const token = /^Bearer ([A-Za-z0-9_.-]{1,4096})$/.exec(header)?.[1];
  const account = token ? await signedInAccount(token, ports) : null;
  if (!account) throw invalidToken();
  return account;
}

/** For the self-service endpoints: no token is 401 like a bad one. */
export async function requireAccount(c: Context<SessionEnv>): Promise<SignedInAccount> {
  const found = await accountOf(c.req.header("authorization"), c.get("ports"));
  if (!found) throw new AppError("UNAUTHORIZED", "A session token is required (Authorization: Bearer …)");
  return found;
}

/**
 * Middleware form of requireAccount, for whole route groups: the caller is authenticated
 * before anything else about the request (its body, its ids) is looked at.
 */
export const signedIn = createMiddleware<SessionEnv>(async (c, next) => {
  c.set("account", await requireAccount(c));
  await next();
});
