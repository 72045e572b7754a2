import { env } from "cloudflare:workers";
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
    const started = await registrationOptions({ username });
    expect(started.status).toBe(200);
    const stored = () =>
      env.DB.prepare("SELECT count(*) AS n FROM users WHERE username = ?").bind(username).first<{ n: number }>();
    expect((await stored())?.n).toBe(0);
    // The name is still free: a second person can start signing up with it.
    expect((await registrationOptions({ username })).status).toBe(200);
    // Once a passkey verifies, the account exists and the name is taken.
    await signUp(username);
    expect((await stored())?.n).toBe(1);
    expect((await registrationOptions({ username })).status).toBe(409);
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

  it("refuses a usernameless assertion without userHandle: nothing then says whose it is", async () => {
    const user = await signUp();
    const response = await signIn(user.authenticator, undefined, { userHandle: null });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("AUTHENTICATION_FAILED");
    // The same passkey with its userHandle signs in: the missing handle was the only fault.
    expect((await signIn(user.authenticator)).status).toBe(200);
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
