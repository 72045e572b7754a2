import { env } from "cloudflare:workers";
import { SessionTokens } from "../../src/sessions/session-tokens";
import { type AuthenticatorOptions, SoftAuthenticator } from "../authenticator/soft-authenticator";
import { api, bearer, ORIGIN, registrationOptions, type SignedUp } from "./api";
import { captureLogLines } from "./log-lines";

/** Adds one more passkey to a signed-up account, with its session token (the only way to). */
export async function addPasskey(user: SignedUp, options: AuthenticatorOptions = {}) {
  const authenticator = await SoftAuthenticator.create(options);
  const challenge = await registrationOptions(
    { username: user.username, displayName: `Display ${user.username}` },
    bearer(user.token),
  );
  if (challenge.status !== 200) throw new Error(`registration challenge failed: ${JSON.stringify(challenge.body)}`);
  const credential = await authenticator.register(challenge.body.data, { origin: ORIGIN });
  const verified = await api("POST", "/api/v1/registration/verify", { credential });
  if (verified.status !== 201) throw new Error(`registration verify failed: ${JSON.stringify(verified.body)}`);
  return { authenticator, passkeyId: verified.body.data.passkeyId as string };
}

/** The test's own ADMIN_API_KEY (generated in vitest.config.ts). */
export const adminKey = env.ADMIN_API_KEY;
export const admin = { authorization: `Bearer ${adminKey}` };

/** A session token from the server's own key that expired a minute before it was issued. */
export async function expiredToken(user: SignedUp): Promise<string> {
  const tokens = await SessionTokens.fromSecret(env.SESSION_SIGNING_KEY, "localhost", -60);
  const { token } = await tokens.issue({
    userId: user.userId,
    username: user.username,
    passkeyId: user.passkeyId,
    userVerified: true,
  });
  return token;
}

/** Rows the database holds for an account: what a delete must leave at zero. */
export async function storedRows(userId: string) {
  const users = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE id = ?")
    .bind(userId)
    .first<{ n: number }>();
  const credentials = await env.DB.prepare("SELECT count(*) AS n FROM credentials WHERE user_id = ?")
    .bind(userId)
    .first<{ n: number }>();
  return { users: users?.n, credentials: credentials?.n };
}

export type LoggedEvent = Record<string, unknown> & { event: string; outcome: string };

/** Watches the JSON log lines and hands back the security events among them. */
export function watchSecurityEvents() {
  const lines = captureLogLines();
  return () =>
    lines
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      })
      .filter((line): line is LoggedEvent => line.type === "security_event");
}
