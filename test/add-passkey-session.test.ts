import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { api, bearer, ORIGIN, registrationOptions, type SignedUp, signIn, signUp } from "./support/api";
import { addPasskey, admin, watchSecurityEvents } from "./support/management";
import { openChallenge, resealChallenge } from "./support/sealed-challenges";

// Issue 11, item 1: an add-passkey ceremony must not outlive the session that started it. A
// stolen token is enough to ask for the options; after the session ends (its passkey removed
// or disabled, or its expiry passed), finishing the ceremony must add nothing.

/** Options to add a passkey, asked for with the user's session token (as an attacker holding it could). */
async function startAdding(user: SignedUp) {
  const options = await registrationOptions({ username: user.username }, bearer(user.token));
  expect(options.status).toBe(200);
  return options.body.data;
}

async function passkeyCount(userId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM credentials WHERE user_id = ?")
    .bind(userId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

async function expectRefused(user: SignedUp, options: Awaited<ReturnType<typeof startAdding>>, reason: string) {
  const before = await passkeyCount(user.userId);
  const events = watchSecurityEvents();
  const credential = await (await SoftAuthenticator.create()).register(options, { origin: ORIGIN });
  const response = await api("POST", "/api/v1/registration/verify", { credential });
  expect(response.status).toBe(400);
  expect(response.body.error.code).toBe("REGISTRATION_FAILED");
  expect(response.body.data).toBeUndefined();
  expect(await passkeyCount(user.userId)).toBe(before);
  // One attempt event for the one refusal, naming why.
  const attempts = events().filter((event) => event.event === "registration_attempt");
  expect(attempts).toEqual([expect.objectContaining({ outcome: "failure", reason })]);
}

describe("adding a passkey is bound to the session that started it", () => {
  it("refuses to finish once the session's passkey was removed", async () => {
    const user = await signUp();
    const other = await addPasskey(user);
    const options = await startAdding(user);
    // The owner, signed in with their other passkey, removes the one the stolen session speaks for.
    const owner = await signIn(other.authenticator, user.username);
    const removed = await api(
      "DELETE",
      `/api/v1/credentials/${user.passkeyId}`,
      undefined,
      bearer(owner.body.data.token),
    );
    expect(removed.status).toBe(200);
    await expectRefused(user, options, "session_ended");
  });

  it("refuses to finish once an operator disabled the session's passkey", async () => {
    const user = await signUp();
    await addPasskey(user);
    const options = await startAdding(user);
    const disabled = await api("PATCH", `/api/v1/admin/credentials/${user.passkeyId}`, { active: false }, admin);
    expect(disabled.status).toBe(200);
    await expectRefused(user, options, "session_ended");
  });

  it("refuses to finish once the session has expired", async () => {
    const user = await signUp();
    const options = await startAdding(user);
    // The same ceremony with the session's expiry in the past (sealed with the server's key,
    // as a ceremony started a session-lifetime ago would be), naming the same session.
    const { session } = await openChallenge(options.challenge);
    expect(session).toEqual({
      passkeyId: user.passkeyId,
      expiresAt: expect.any(Number),
      sessionId: expect.any(String),
    });
    const expired = { ...(session as object), expiresAt: Date.now() - 1 };
    await expectRefused(
      user,
      { ...options, challenge: await resealChallenge(options.challenge, { session: expired }) },
      "session_ended",
    );
  });

  it("refuses a challenge whose sealed session lacks a field (sealed by an older version) as unknown", async () => {
    const user = await signUp();
    const options = await startAdding(user);
    const before = await passkeyCount(user.userId);
    const events = watchSecurityEvents();
    // What a ceremony started before sessions had ids carries: no `sessionId`.
    const session = { passkeyId: user.passkeyId, expiresAt: Date.now() + 60_000 };
    const challenge = await resealChallenge(options.challenge, { session });
    const credential = await (await SoftAuthenticator.create()).register({ ...options, challenge }, { origin: ORIGIN });
    const response = await api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("INVALID_CHALLENGE");
    expect(await passkeyCount(user.userId)).toBe(before);
    const attempts = events().filter((event) => event.event === "registration_attempt");
    expect(attempts).toEqual([expect.objectContaining({ outcome: "failure", reason: "unknown_or_expired_challenge" })]);
  });

  it("refuses a ceremony for an existing account that names no session", async () => {
    const user = await signUp();
    const options = await startAdding(user);
    await expectRefused(
      user,
      { ...options, challenge: await resealChallenge(options.challenge, { session: undefined }) },
      "session_missing",
    );
  });

  it("still adds the passkey while the session is good", async () => {
    const user = await signUp();
    const options = await startAdding(user);
    const credential = await (await SoftAuthenticator.create()).register(options, { origin: ORIGIN });
    const response = await api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(201);
    expect(await passkeyCount(user.userId)).toBe(2);
  });
});
