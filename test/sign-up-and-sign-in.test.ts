import { describe, expect, it } from "vitest";
import { api, authenticationOptions, registrationOptions, signIn, signUp, uniqueUsername } from "./support/api";

describe("sign-up then sign-in", () => {
  it.each([
    ["ES256", "none"],
    ["EdDSA", "none"],
    ["RS256", "none"],
    ["ES256", "packed"],
    ["EdDSA", "packed"],
    ["RS256", "packed"],
  ] as const)(
    "registers a %s passkey with %s attestation and signs in twice with it",
    async (algorithm, attestation) => {
      const user = await signUp(uniqueUsername(), { algorithm, attestation });

      const first = await signIn(user.authenticator, user.username);
      expect(first.status).toBe(200);
      expect(first.body.status).toBe("ok");
      expect(first.body.data).toMatchObject({ userId: user.userId, username: user.username, signCount: 1 });
      expect(first.body.data.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

      const second = await signIn(user.authenticator, user.username);
      expect(second.status).toBe(200);
      expect(second.body.data.signCount).toBe(2);
    },
  );

  it("answers registration options in the envelope with the user, RP and a fresh challenge", async () => {
    const username = uniqueUsername();
    const first = await registrationOptions({ username, displayName: "Alice" });
    const second = await registrationOptions({ username, displayName: "Alice" });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: "ok", data: { rp: { id: "localhost" }, user: { name: username } } });
    expect(new Date(first.body.timestamp).toString()).not.toBe("Invalid Date");
    expect(first.body.data.challenge).not.toBe(second.body.data.challenge);
    expect(first.body.data.authenticatorSelection?.residentKey).toBe("required");
  });

  it("does not create the account until its first passkey verifies", async () => {
    const username = uniqueUsername();
    await registrationOptions({ username });
    const options = await authenticationOptions({ username });
    // The name is still free: a second person can start signing up with it.
    const again = await registrationOptions({ username });
    expect(options.status).toBe(200);
    expect(again.status).toBe(200);
  });

  it("treats differently typed spellings of a username as the same account", async () => {
    const user = await signUp(`Mixed-${uniqueUsername()}`);
    const response = await signIn(user.authenticator, `  ${user.username.toUpperCase()} `);
    expect(response.status).toBe(200);
    expect(response.body.data.username).toBe(user.username.toLowerCase());
  });

  it("signs in without a username using a discoverable credential", async () => {
    const user = await signUp();
    const options = await authenticationOptions({});
    expect(options.body.data.allowCredentials ?? []).toEqual([]);
    const response = await signIn(user.authenticator);
    expect(response.status).toBe(200);
    expect(response.body.data.userId).toBe(user.userId);
  });

  it("accepts an assertion without userHandle (Android hybrid) when the ceremony named the user", async () => {
    const user = await signUp();
    const response = await signIn(user.authenticator, user.username, { userHandle: null });
    expect(response.status).toBe(200);
  });

  it("reports health of D1 and the challenge store", async () => {
    const response = await api("GET", "/api/v1/health");
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({
      status: "healthy",
      checks: { database: { status: "pass" }, challengeStore: { status: "pass" } },
    });
  });
});
