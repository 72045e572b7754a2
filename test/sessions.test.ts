import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { calculateJwkThumbprint, decodeJwt, importJWK, type JWK, type JWTPayload, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { runScheduledJob } from "../src/jobs/scheduled";
import { SessionTokens } from "../src/sessions/session-tokens";
import { api, bearer, registrationOptions, type SignedUp, signIn, signUp } from "./support/api";
import { dumpDatabase } from "./support/database-dump";
import { addPasskey, storedRows, watchSecurityEvents } from "./support/management";
import { testWorker } from "./support/test-worker";

/** A token from the server's own key, for a session that began `minutesAgo` minutes ago. */
async function tokenAuthenticatedAgo(user: SignedUp, minutesAgo: number, userVerified = true): Promise<string> {
  const tokens = await SessionTokens.fromSecret(env.SESSION_SIGNING_KEY, "localhost", 3600);
  const { token } = await tokens.issue({
    userId: user.userId,
    username: user.username,
    passkeyId: user.passkeyId,
    userVerified,
    authenticatedAt: new Date(Date.now() - minutesAgo * 60_000),
  });
  return token;
}

/** A token signed by the server's key with exactly these claims (as an older release, or a forger with the key, would). */
async function tokenWithClaims(claims: JWTPayload): Promise<string> {
  const jwk = JSON.parse(env.SESSION_SIGNING_KEY) as JWK;
  const { d: _d, ...publicParts } = jwk;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: "https://localhost", aud: "localhost", iat: now, exp: now + 900, ...claims })
    .setProtectedHeader({ alg: "ES256", kid: await calculateJwkThumbprint(publicParts, "sha256"), typ: "JWT" })
    .sign(await importJWK({ ...jwk, alg: "ES256" }, "ES256"));
}

const revokedRows = async () =>
  (await env.DB.prepare("SELECT jti, expires_at FROM revoked_sessions").all<{ jti: string; expires_at: number }>())
    .results;

describe("sign-out: DELETE /api/v1/session (issue 11, item 5)", () => {
  it("ends the calling session at once: its token is refused everywhere afterwards", async () => {
    const user = await signUp();
    const events = watchSecurityEvents();
    const response = await api("DELETE", "/api/v1/session", undefined, bearer(user.token));
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({ signedOut: true });
    expect(events()).toContainEqual(
      expect.objectContaining({ event: "signed_out", outcome: "success", userId: user.userId }),
    );

    for (const [method, path] of [
      ["GET", "/api/v1/me"],
      ["GET", "/api/v1/credentials"],
      ["DELETE", "/api/v1/session"],
      ["DELETE", "/api/v1/me"],
    ] as const) {
      const refused = await api(method, path, undefined, bearer(user.token));
      expect(refused.status, `${method} ${path}`).toBe(401);
      expect(refused.body.error.code).toBe("UNAUTHORIZED");
    }
    const adding = await registrationOptions({ username: user.username }, bearer(user.token));
    expect(adding.status).toBe(401);
    // The account itself is untouched.
    expect(await storedRows(user.userId)).toEqual({ users: 1, credentials: 1 });
  });

  it("ends only that session: another session of the same account goes on", async () => {
    const user = await signUp();
    const other = await signIn(user.authenticator, user.username);
    expect(other.status).toBe(200);
    expect((await api("DELETE", "/api/v1/session", undefined, bearer(user.token))).status).toBe(200);
    expect((await api("GET", "/api/v1/me", undefined, bearer(other.body.data.token))).status).toBe(200);
    expect((await api("GET", "/api/v1/me", undefined, bearer(user.token))).status).toBe(401);
  });

  it("keeps the revocation only as long as the token could have lived", async () => {
    const user = await signUp();
    const { jti, exp } = decodeJwt(user.token);
    expect((await api("DELETE", "/api/v1/session", undefined, bearer(user.token))).status).toBe(200);
    expect(await revokedRows()).toContainEqual({ jti, expires_at: (exp ?? 0) * 1000 });
  });

  it("needs a session: no token or a bad one is 401", async () => {
    expect((await api("DELETE", "/api/v1/session")).status).toBe(401);
    expect((await api("DELETE", "/api/v1/session", undefined, bearer("x.y.z"))).status).toBe(401);
  });

  it("refuses a token without a jti (it could never be signed out)", async () => {
    const user = await signUp();
    const token = await tokenWithClaims({ sub: user.userId, username: user.username, cid: user.passkeyId, uv: true });
    expect((await api("GET", "/api/v1/me", undefined, bearer(token))).status).toBe(401);
  });

  it("the cron cleanup drops revocations of tokens that have expired, and keeps the others", async () => {
    const past = `test-past-${crypto.randomUUID()}`;
    const future = `test-future-${crypto.randomUUID()}`;
    await env.DB.prepare("INSERT INTO revoked_sessions (jti, expires_at) VALUES (?, ?), (?, ?)")
      .bind(past, Date.now() - 1000, future, Date.now() + 600_000)
      .run();
    await runScheduledJob("revokedSessionCleanup", env, createExecutionContext());
    const left = (await revokedRows()).map((row) => row.jti);
    expect(left).not.toContain(past);
    expect(left).toContain(future);
  });
});

describe("step-up for account changes (issue 11, item 4)", () => {
  const refusedWithStepUp = (response: { status: number; body: { error: { code: string } } }) => {
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe("REAUTHENTICATION_REQUIRED");
  };

  it("a session from a sign-in without user verification can read and rename, but not add, remove or delete", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    const unverified = await signIn(user.authenticator, user.username, { userVerified: false });
    expect(unverified.status).toBe(200);
    const token = unverified.body.data.token as string;
    expect(decodeJwt(token).uv).toBe(false);

    expect((await api("GET", "/api/v1/me", undefined, bearer(token))).status).toBe(200);
    expect((await api("GET", "/api/v1/credentials", undefined, bearer(token))).status).toBe(200);
    const rename = await api("PATCH", `/api/v1/credentials/${second.passkeyId}`, { name: "Spare key" }, bearer(token));
    expect(rename.status).toBe(200);

    const before = await dumpDatabase();
    refusedWithStepUp(await api("DELETE", `/api/v1/credentials/${second.passkeyId}`, undefined, bearer(token)));
    refusedWithStepUp(
      await api("DELETE", `/api/v1/credentials/${user.passkeyId}?force=true`, undefined, bearer(token)),
    );
    refusedWithStepUp(await api("DELETE", "/api/v1/me", undefined, bearer(token)));
    refusedWithStepUp(await registrationOptions({ username: user.username }, bearer(token)));
    expect(await dumpDatabase()).toEqual(before);
    expect(await storedRows(user.userId)).toEqual({ users: 1, credentials: 2 });
  });

  it("a fresh verified sign-in may do all of it", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    const verified = await signIn(user.authenticator, user.username);
    const token = verified.body.data.token as string;
    expect((await registrationOptions({ username: user.username }, bearer(token))).status).toBe(200);
    expect((await api("DELETE", `/api/v1/credentials/${second.passkeyId}`, undefined, bearer(token))).status).toBe(200);
    expect((await api("DELETE", "/api/v1/me", undefined, bearer(token))).status).toBe(200);
  });

  it("a verified sign-in older than REAUTHENTICATION_WINDOW_SECONDS (300) must be renewed; a longer window lets it through", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    const old = await tokenAuthenticatedAgo(user, 6);
    expect((await api("GET", "/api/v1/me", undefined, bearer(old))).status).toBe(200);
    refusedWithStepUp(await api("DELETE", `/api/v1/credentials/${second.passkeyId}`, undefined, bearer(old)));
    refusedWithStepUp(await registrationOptions({ username: user.username }, bearer(old)));

    const recent = await tokenAuthenticatedAgo(user, 4);
    expect((await registrationOptions({ username: user.username }, bearer(recent))).status).toBe(200);

    const lenient = testWorker({ env: { REAUTHENTICATION_WINDOW_SECONDS: "600" } });
    const removed = await lenient.api("DELETE", `/api/v1/credentials/${second.passkeyId}`, undefined, bearer(old));
    expect(removed.status).toBe(200);
  });

  it("a recent sign-in without user verification is not enough, however recent", async () => {
    const user = await signUp();
    const token = await tokenAuthenticatedAgo(user, 0, false);
    refusedWithStepUp(await api("DELETE", "/api/v1/me", undefined, bearer(token)));
  });

  it("a token without auth_time (from before this rule) reads but cannot change the account", async () => {
    const user = await signUp();
    const token = await tokenWithClaims({
      sub: user.userId,
      username: user.username,
      cid: user.passkeyId,
      uv: true,
      jti: crypto.randomUUID(),
    });
    expect((await api("GET", "/api/v1/me", undefined, bearer(token))).status).toBe(200);
    refusedWithStepUp(await api("DELETE", "/api/v1/me", undefined, bearer(token)));
  });

  it("issues auth_time with every session: the time of the sign-in (or sign-up) that made it", async () => {
    const user = await signUp();
    const claims = decodeJwt(user.token);
    expect(claims.auth_time).toBe(claims.iat);
  });
});
