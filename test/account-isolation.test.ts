import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SessionTokens } from "../src/sessions/session-tokens";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { api, bearer, ORIGIN, registrationOptions, signIn, signUp, uniqueUsername } from "./support/api";
import { addPasskey, admin } from "./support/management";
import { testWorker } from "./support/test-worker";

/**
 * A session token speaks for one passkey of one account. Whatever takes that passkey away
 * (its owner removing it, an operator disabling it) takes the session with it: otherwise a
 * stolen passkey's session could outlive the passkey and plant a passkey of the attacker's.
 */
describe("a session token is bound to the passkey that created it", () => {
  it("stops working once its passkey is removed, and cannot add a passkey any more", async () => {
    const owner = await signUp();
    const second = await addPasskey(owner);
    // The attacker signed in with the first passkey; the owner, with the second, removes it.
    const attacker = (await signIn(owner.authenticator, owner.username)).body.data.token as string;
    const ownerSession = (await signIn(second.authenticator, owner.username)).body.data.token as string;
    const removed = await api("DELETE", `/api/v1/credentials/${owner.passkeyId}`, undefined, bearer(ownerSession));
    expect(removed.status).toBe(200);

    for (const token of [attacker, owner.token]) {
      const me = await api("GET", "/api/v1/me", undefined, bearer(token));
      expect(me.status).toBe(401);
      expect(me.body.error.code).toBe("UNAUTHORIZED");
      const add = await registrationOptions({ username: owner.username }, bearer(token));
      expect(add.status).toBe(401);
    }
    // The session of the passkey that remains is untouched.
    expect((await api("GET", "/api/v1/me", undefined, bearer(ownerSession))).status).toBe(200);
  });

  it("stops working while an operator has its passkey disabled, and works again once enabled", async () => {
    const owner = await signUp();
    await addPasskey(owner);
    const disable = await api("PATCH", `/api/v1/admin/credentials/${owner.passkeyId}`, { active: false }, admin);
    expect(disable.status).toBe(200);
    expect((await api("GET", "/api/v1/credentials", undefined, bearer(owner.token))).status).toBe(401);
    expect((await registrationOptions({ username: owner.username }, bearer(owner.token))).status).toBe(401);

    await api("PATCH", `/api/v1/admin/credentials/${owner.passkeyId}`, { active: true }, admin);
    expect((await api("GET", "/api/v1/credentials", undefined, bearer(owner.token))).status).toBe(200);
  });

  it("refuses a correctly signed token whose passkey belongs to another account", async () => {
    const alice = await signUp();
    const bob = await signUp();
    const tokens = await SessionTokens.fromSecret(env.SESSION_SIGNING_KEY, "localhost", 300);
    const { token } = await tokens.issue({
      userId: alice.userId,
      username: alice.username,
      passkeyId: bob.passkeyId,
      userVerified: true,
    });
    expect((await api("GET", "/api/v1/me", undefined, bearer(token))).status).toBe(401);
  });

  it("lists the account's passkeys from the token's one read, newest last", async () => {
    const owner = await signUp();
    const second = await addPasskey(owner);
    const list = await api("GET", "/api/v1/credentials", undefined, bearer(owner.token));
    expect(list.status).toBe(200);
    expect(list.body.data.credentials.map((c: { id: string }) => c.id)).toEqual([owner.passkeyId, second.passkeyId]);
  });
});

describe("FIDO conformance accounts are apart from native accounts", () => {
  const binding = testWorker({ env: { CONFORMANCE_API: "true" } });
  const prefixed = () => `fido-conformance:${uniqueUsername("victim")}`;

  it.each([
    ["registration", "/api/v1/registration/challenge", { displayName: "Victim" }],
    ["authentication", "/api/v1/authentication/challenge", {}],
  ])("the native %s challenge refuses a username in the binding's namespace", async (_name, path, rest) => {
    // The same body with an ordinary name is accepted: the prefix is what is refused.
    expect((await api("POST", path, { username: uniqueUsername(), ...rest })).status).toBe(200);
    for (const username of [prefixed(), ` FIDO-Conformance:${uniqueUsername()}`]) {
      const response = await api("POST", path, { username, ...rest });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("VALIDATION_ERROR");
    }
  });

  it("a passkey registered through the binding cannot sign in on the native API", async () => {
    const username = uniqueUsername("fido");
    const authenticator = await SoftAuthenticator.create();
    const options = await binding.api("POST", "/attestation/options", {
      username,
      displayName: "Tool",
      attestation: "none",
    });
    expect(options.status).toBe(200);
    const credential = await authenticator.register(options.body as never, { origin: ORIGIN });
    const result = await binding.api("POST", "/attestation/result", credential);
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });

    // Usernameless: the only native way to name no account, and so the way in it would be.
    const response = await signIn(authenticator);
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("AUTHENTICATION_FAILED");
  });
});
