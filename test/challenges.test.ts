import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { api, assertion, ORIGIN, registrationOptions, signUp, uniqueUsername } from "./support/api";

const stubFor = (challenge: string) => env.CHALLENGES.get(env.CHALLENGES.idFromName(challenge));

/** The challenge a response signed, read from its clientDataJSON. */
const signedChallenge = (credential: { response: { clientDataJSON: string } }) =>
  JSON.parse(atob(credential.response.clientDataJSON.replace(/-/g, "+").replace(/_/g, "/"))).challenge as string;

/** What a challenge object holds: its stored state and its pending alarm (null when none). */
const objectState = (challenge: string) =>
  runInDurableObject(stubFor(challenge), async (_instance, state) => ({
    stored: state.storage.kv.get("state"),
    alarm: await state.storage.getAlarm(),
  }));

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

  it("refuses an expired challenge even before its alarm has run", async () => {
    const user = await signUp();
    const credential = await assertion(user.authenticator, user.username);
    const challenge = JSON.parse(atob(credential.response.clientDataJSON.replace(/-/g, "+").replace(/_/g, "/")))
      .challenge as string;
    await runInDurableObject(stubFor(challenge), (_instance, state) => {
      const stored = state.storage.kv.get<{ expiresAt: number }>("state");
      expect(stored).toBeDefined();
      state.storage.kv.put("state", { ...stored, expiresAt: Date.now() - 1 });
    });
    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("INVALID_CHALLENGE");
  });

  it("removes an abandoned challenge when its alarm fires", async () => {
    const options = await registrationOptions({ username: uniqueUsername() });
    const stub = stubFor(options.body.data.challenge);
    const before = await runInDurableObject(stub, (_instance, state) => state.storage.kv.get("state"));
    expect(before).toBeDefined();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await runInDurableObject(stub, (_instance, state) => state.storage.kv.get("state"));
    expect(after).toBeUndefined();
  });

  it("leaves the object of a taken sign-in challenge with nothing stored and no alarm to wake it", async () => {
    const user = await signUp();
    const credential = await assertion(user.authenticator, user.username);
    const challenge = signedChallenge(credential);
    const pending = await objectState(challenge);
    expect(pending.stored).toBeDefined();
    expect(pending.alarm).toBeGreaterThan(Date.now());

    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(200);
    expect(await objectState(challenge)).toEqual({ stored: undefined, alarm: null });
  });

  it("leaves the object of a taken sign-up challenge with nothing stored and no alarm to wake it", async () => {
    const authenticator = await SoftAuthenticator.create();
    const options = await registrationOptions({ username: uniqueUsername() });
    const challenge = options.body.data.challenge;
    expect((await objectState(challenge)).alarm).toBeGreaterThan(Date.now());

    const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
    const response = await api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(201);
    expect(await objectState(challenge)).toEqual({ stored: undefined, alarm: null });
  });

  it("cancels the alarm of an expired challenge it refuses as well", async () => {
    const user = await signUp();
    const credential = await assertion(user.authenticator, user.username);
    const challenge = signedChallenge(credential);
    await runInDurableObject(stubFor(challenge), (_instance, state) => {
      const stored = state.storage.kv.get<{ expiresAt: number }>("state");
      state.storage.kv.put("state", { ...stored, expiresAt: Date.now() - 1 });
    });
    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.body.error.code).toBe("INVALID_CHALLENGE");
    expect(await objectState(challenge)).toEqual({ stored: undefined, alarm: null });
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
