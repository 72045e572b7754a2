import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { describe, expect, it } from "vitest";
import { ChallengeSealing } from "../src/crypto/challenge-sealing";
import type { ChallengeStore } from "../src/durable-objects/challenge-store";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import {
  api,
  assertion,
  authenticationOptions,
  ORIGIN,
  registrationOptions,
  signUp,
  uniqueUsername,
} from "./support/api";
import { openChallenge, resealChallenge, spendObjectOf } from "./support/sealed-challenges";
import { newKey, testWorker } from "./support/test-worker";

/** The challenge a response signed, read from its clientDataJSON. */
const signedChallenge = (credential: { response: { clientDataJSON: string } }) =>
  JSON.parse(atob(credential.response.clientDataJSON.replace(/-/g, "+").replace(/_/g, "/"))).challenge as string;

/** What a challenge's spend object holds: its spent mark and its pending alarm (null when none). */
const objectState = (stub: DurableObjectStub<ChallengeStore>) =>
  runInDurableObject(stub, async (_instance, state) => ({
    spent: state.storage.kv.get("spent"),
    alarm: await state.storage.getAlarm(),
  }));

async function signInWith(user: { authenticator: SoftAuthenticator }, options: PublicKeyCredentialRequestOptionsJSON) {
  const credential = await user.authenticator.assert(options, { origin: ORIGIN });
  return api("POST", "/api/v1/authentication/verify", { credential });
}

describe("challenges are consumed exactly once", () => {
  it("refuses a replayed authentication response", async () => {
    const user = await signUp();
    const credential = await assertion(user.authenticator, user.username);
    const first = await api("POST", "/api/v1/authentication/verify", { credential });
    const replay = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(first.status).toBe(200);
    expect(replay.status).toBe(400);
    expect(replay.body.error.code).toBe("INVALID_CHALLENGE");
  });

  it("refuses a replayed registration response and creates one account only", async () => {
    const authenticator = await SoftAuthenticator.create();
    const options = await registrationOptions({ username: uniqueUsername() });
    const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
    const first = await api("POST", "/api/v1/registration/verify", { credential });
    const replay = await api("POST", "/api/v1/registration/verify", { credential });
    expect(first.status).toBe(201);
    expect(replay.status).toBe(400);
    expect(replay.body.error.code).toBe("INVALID_CHALLENGE");
  });

  it("lets exactly one of 20 concurrent verifies of the same response succeed", async () => {
    const user = await signUp();
    const credential = await assertion(user.authenticator, user.username);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => api("POST", "/api/v1/authentication/verify", { credential })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(19);
    expect(responses.filter((r) => r.status === 400).every((r) => r.body.error.code === "INVALID_CHALLENGE")).toBe(
      true,
    );
  });

  it("lets exactly one of 20 concurrent registrations of the same response create the passkey", async () => {
    const authenticator = await SoftAuthenticator.create();
    const options = await registrationOptions({ username: uniqueUsername() });
    const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => api("POST", "/api/v1/registration/verify", { credential })),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE username = ?")
      .bind(options.body.data.user.name)
      .first<{ n: number }>();
    expect(rows?.n).toBe(1);
  });

  it("refuses an expired challenge without asking its object, and leaves nothing behind", async () => {
    const user = await signUp();
    const options = await authenticationOptions({ username: user.username });
    // Sealed again with a past expiry, as only the server key can: the seal is genuine, the time is up.
    const challenge = await resealChallenge(options.body.data.challenge, { expiresAt: Date.now() - 1 });
    const credential = await user.authenticator.assert({ ...options.body.data, challenge }, { origin: ORIGIN });
    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("INVALID_CHALLENGE");
    expect(await objectState(await spendObjectOf(challenge))).toEqual({ spent: undefined, alarm: null });
  });

  it("has the object refuse to spend an expired challenge as well (its own clock decides)", async () => {
    const stub = env.CHALLENGES.get(env.CHALLENGES.newUniqueId());
    expect(await stub.spend(Date.now() - 1)).toBe(false);
    expect(await objectState(stub)).toEqual({ spent: undefined, alarm: null });
  });

  it("writes nothing anywhere for options: an abandoned challenge leaves no object behind", async () => {
    const options = await registrationOptions({ username: uniqueUsername() });
    expect(await objectState(await spendObjectOf(options.body.data.challenge))).toEqual({
      spent: undefined,
      alarm: null,
    });
  });

  it("marks a spent sign-in challenge until after it expires, then its alarm removes everything", async () => {
    const user = await signUp();
    const credential = await assertion(user.authenticator, user.username);
    const challenge = signedChallenge(credential);
    const { expiresAt } = await openChallenge(challenge);
    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(200);
    const stub = await spendObjectOf(challenge);
    const spent = await objectState(stub);
    expect(spent.spent).toBe(expiresAt);
    // Kept past the expiry, so the mark outlives every moment at which the challenge could be used.
    expect(spent.alarm).toBeGreaterThan(expiresAt);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await objectState(stub)).toEqual({ spent: undefined, alarm: null });
  });

  it("marks a spent sign-up challenge the same way", async () => {
    const authenticator = await SoftAuthenticator.create();
    const options = await registrationOptions({ username: uniqueUsername() });
    const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
    const response = await api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(201);
    const state = await objectState(await spendObjectOf(options.body.data.challenge));
    expect(state.spent).toBe((await openChallenge(options.body.data.challenge)).expiresAt);
    expect(state.alarm).toBeGreaterThan(Date.now());
  });

  it("refuses a challenge altered in any way, and one sealed under another key", async () => {
    const user = await signUp();
    const options = await authenticationOptions({ username: user.username });
    const challenge: string = options.body.data.challenge;
    const bytes = isoBase64URL.toBuffer(challenge);
    const candidates: string[] = [];
    for (const at of [0, 13, bytes.length - 1]) {
      const altered = bytes.slice();
      altered[at] = (altered[at] ?? 0) ^ 0x01;
      candidates.push(isoBase64URL.fromBuffer(altered));
    }
    candidates.push(isoBase64URL.fromBuffer(bytes.slice(0, -1)));
    const foreign = await ChallengeSealing.fromSecret(`k1:${newKey()}`);
    candidates.push(isoBase64URL.fromBuffer(await foreign.seal(await openChallenge(challenge))));
    for (const candidate of candidates) {
      const credential = await user.authenticator.assert(
        { ...options.body.data, challenge: candidate },
        { origin: ORIGIN },
      );
      const response = await api("POST", "/api/v1/authentication/verify", { credential });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("INVALID_CHALLENGE");
    }
    // The genuine one was never spent by those attempts.
    expect((await signInWith(user, options.body.data)).status).toBe(200);
  });

  it("opens a challenge sealed under a previous key during a key rotation", async () => {
    const user = await signUp();
    const options = await authenticationOptions({ username: user.username });
    const rotated = testWorker({
      env: { CREDENTIAL_ENCRYPTION_KEY: `k9:${newKey()},${env.CREDENTIAL_ENCRYPTION_KEY}` },
    });
    const credential = await user.authenticator.assert(options.body.data, { origin: ORIGIN });
    expect((await rotated.api("POST", "/api/v1/authentication/verify", { credential })).status).toBe(200);
  });

  it("carries the longest names a sign-up accepts within the client data's limits", async () => {
    // 64 three-byte characters each: the largest state a native challenge ever seals.
    const username = `${uniqueUsername("x")}${"字".repeat(40)}`.slice(0, 64);
    const displayName = "名".repeat(64);
    const options = await registrationOptions({ username, displayName });
    expect(options.status).toBe(200);
    expect(options.body.data.challenge.length).toBeLessThan(2048);
    const credential = await (await SoftAuthenticator.create()).register(options.body.data, { origin: ORIGIN });
    expect(credential.response.clientDataJSON.length).toBeLessThan(4096);
    const verified = await api("POST", "/api/v1/registration/verify", { credential });
    expect(verified.status).toBe(201);
    expect(verified.body.data.username).toBe(username);
  });

  it("does not accept a registration challenge for a sign-in", async () => {
    const user = await signUp();
    const options = await registrationOptions({ username: uniqueUsername() });
    const credential = await user.authenticator.assert(
      { challenge: options.body.data.challenge, rpId: "localhost", allowCredentials: [] },
      { origin: ORIGIN },
    );
    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("INVALID_CHALLENGE");
  });
});
