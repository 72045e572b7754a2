import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ClientOverrides } from "./authenticator/soft-authenticator";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { api, assertion, ORIGIN, registrationOptions, signIn, signUp, uniqueUsername } from "./support/api";
import { testWorker } from "./support/test-worker";

async function storedCounter(userId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT sign_count FROM credentials WHERE user_id = ?")
    .bind(userId)
    .first<{ sign_count: number }>();
  if (!row) throw new Error("no credential row");
  return row.sign_count;
}

async function registerWith(overrides: Partial<ClientOverrides>, body: Record<string, unknown> = {}) {
  const authenticator = await SoftAuthenticator.create();
  const username = uniqueUsername();
  const options = await registrationOptions({ username, ...body });
  const credential = await authenticator.register(options.body.data, { origin: ORIGIN, ...overrides });
  const response = await api("POST", "/api/v1/registration/verify", { credential });
  const account = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE username = ?")
    .bind(username)
    .first<{ n: number }>();
  return { response, accountCreated: (account?.n ?? 0) > 0 };
}

// A wrong origin is refused too, but says so (test/origin-policy.test.ts): it is not secret.
describe("sign-in is refused, identically, when a check fails", () => {
  const cases: [string, Partial<ClientOverrides>][] = [
    ["a wrong RP ID", { rpId: "evil.example" }],
    ["a wrong clientData type", { type: "webauthn.create" }],
    ["a bad signature", { corruptSignature: true }],
    ["the user-presence flag cleared", { userPresent: false }],
  ];

  it.each(cases)("refuses an assertion with %s and leaves the counter alone", async (_name, overrides) => {
    const user = await signUp();
    const response = await signIn(user.authenticator, user.username, overrides);
    expect(response.status).toBe(401);
    expect(response.body.error).toEqual({ code: "AUTHENTICATION_FAILED", message: "Authentication failed" });
    expect(await storedCounter(user.userId)).toBe(0);
  });

  it("refuses an assertion without user verification when the user asked for it to be required", async () => {
    const user = await signUp();
    const options = await api("POST", "/api/v1/authentication/challenge", {
      username: user.username,
      userVerification: "required",
    });
    const credential = await user.authenticator.assert(options.body.data, { origin: ORIGIN, userVerified: false });
    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("AUTHENTICATION_FAILED");
  });

  it("refuses sign-in and sign-up without user verification when the server requires it, whatever the client asks", async () => {
    const user = await signUp();
    const strict = testWorker({ env: { USER_VERIFICATION: "required" } });
    const options = await strict.api("POST", "/api/v1/authentication/challenge", {
      username: user.username,
      userVerification: "discouraged",
    });
    expect(options.body.data.userVerification).toBe("required");
    const withoutUv = await user.authenticator.assert(options.body.data, { origin: ORIGIN, userVerified: false });
    const refused = await strict.api("POST", "/api/v1/authentication/verify", { credential: withoutUv });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("AUTHENTICATION_FAILED");
    // The same passkey with UV passes under the same policy: UV was the one thing missing.
    const again = await strict.api("POST", "/api/v1/authentication/challenge", { username: user.username });
    const withUv = await user.authenticator.assert(again.body.data, { origin: ORIGIN });
    expect((await strict.api("POST", "/api/v1/authentication/verify", { credential: withUv })).status).toBe(200);

    const username = uniqueUsername();
    const creation = await strict.api("POST", "/api/v1/registration/challenge", { username });
    expect(creation.body.data.authenticatorSelection.userVerification).toBe("required");
    const device = await SoftAuthenticator.create();
    const attestation = await device.register(creation.body.data, { origin: ORIGIN, userVerified: false });
    const signUpRefused = await strict.api("POST", "/api/v1/registration/verify", { credential: attestation });
    expect(signUpRefused.status).toBe(400);
    expect(signUpRefused.body.error.code).toBe("REGISTRATION_FAILED");
  });

  it("accepts an assertion without user verification under the default 'preferred' policy", async () => {
    const user = await signUp();
    const response = await signIn(user.authenticator, user.username, { userVerified: false });
    expect(response.status).toBe(200);
    expect(response.body.data.userVerified).toBe(false);
  });

  it("refuses a counter that goes backwards and keeps the stored counter", async () => {
    const user = await signUp();
    expect((await signIn(user.authenticator, user.username)).status).toBe(200);
    expect((await signIn(user.authenticator, user.username)).status).toBe(200);
    expect(await storedCounter(user.userId)).toBe(2);
    const response = await signIn(user.authenticator, user.username, { signCount: 1 });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("AUTHENTICATION_FAILED");
    expect(await storedCounter(user.userId)).toBe(2);
  });

  it("accepts synced passkeys whose counters stay at zero", async () => {
    const user = await signUp(uniqueUsername(), { countSignatures: false, backupEligible: true, backupState: true });
    for (let i = 0; i < 3; i++) {
      const response = await signIn(user.authenticator, user.username);
      expect(response.status).toBe(200);
      expect(response.body.data).toMatchObject({ signCount: 0, backedUp: true });
    }
  });

  it("refuses a credential of another user for a ceremony started for this user", async () => {
    const alice = await signUp();
    const mallory = await signUp();
    // Mallory answers a challenge issued for Alice with her own passkey.
    const options = await api("POST", "/api/v1/authentication/challenge", { username: alice.username });
    const credential = await mallory.authenticator.assert(
      { ...options.body.data, allowCredentials: [] },
      { origin: ORIGIN },
    );
    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("AUTHENTICATION_FAILED");
  });

  it("refuses a userHandle that is not the credential owner's", async () => {
    const alice = await signUp();
    const bob = await signUp();
    const response = await signIn(alice.authenticator, undefined, { userHandle: bob.userId });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("AUTHENTICATION_FAILED");
  });

  it("refuses a response whose id and rawId differ", async () => {
    const user = await signUp();
    const credential = await assertion(user.authenticator, user.username);
    const response = await api("POST", "/api/v1/authentication/verify", {
      credential: { ...credential, id: `${credential.id.slice(0, -2)}AA` },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
  });

  it("refuses an unknown credential with the same answer as a bad signature, plus the Signal API hint", async () => {
    const user = await signUp();
    const stranger = await SoftAuthenticator.create();
    const options = await api("POST", "/api/v1/authentication/challenge", {});
    const credential = await stranger.assert(options.body.data, { origin: ORIGIN });
    const unknown = await api("POST", "/api/v1/authentication/verify", { credential });
    const badSignature = await signIn(user.authenticator, user.username, { corruptSignature: true });
    expect(unknown.status).toBe(401);
    // Only the id the client sent comes back (docs/api-management.md "WebAuthn Signal API").
    const { details, ...error } = unknown.body.error;
    expect(error).toEqual(badSignature.body.error);
    expect(details).toEqual({
      signals: [
        {
          method: "signalUnknownCredential",
          options: { rpId: "localhost", credentialId: stranger.credentialIdBase64URL },
        },
      ],
    });
  });
});

describe("sign-up is refused when a check fails, and no account is left behind", () => {
  const cases: [string, Partial<ClientOverrides>][] = [
    ["a wrong origin", { origin: "https://evil.example" }],
    ["a wrong RP ID", { rpId: "evil.example" }],
    ["a wrong clientData type", { type: "webauthn.get" }],
    ["the user-presence flag cleared", { userPresent: false }],
  ];

  it.each(cases)("refuses an attestation with %s", async (_name, overrides) => {
    const { response, accountCreated } = await registerWith(overrides);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("REGISTRATION_FAILED");
    expect(accountCreated).toBe(false);
  });

  it("refuses a packed attestation with a bad signature", async () => {
    const authenticator = await SoftAuthenticator.create({ attestation: "packed" });
    const options = await registrationOptions({ username: uniqueUsername() });
    const credential = await authenticator.register(options.body.data, { origin: ORIGIN, corruptSignature: true });
    const response = await api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("REGISTRATION_FAILED");
  });

  it("refuses registration without user verification when it was required", async () => {
    const { response, accountCreated } = await registerWith({ userVerified: false }, { userVerification: "required" });
    expect(response.status).toBe(400);
    expect(accountCreated).toBe(false);
  });

  it("accepts conditional create without user presence only when the client asked for it", async () => {
    const refused = await registerWith({ userPresent: false });
    const accepted = await registerWith({ userPresent: false }, { mediation: "conditional" });
    expect(refused.response.status).toBe(400);
    expect(accepted.response.status).toBe(201);
  });
});
