import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { api, bearer, ORIGIN, registrationOptions, signIn, signUp, uniqueUsername } from "./support/api";
import { expiredToken } from "./support/management";
import { resealChallenge } from "./support/sealed-challenges";

async function addPasskey(username: string, token: string, authenticator?: SoftAuthenticator) {
  const device = authenticator ?? (await SoftAuthenticator.create({ algorithm: "EdDSA" }));
  const options = await registrationOptions({ username }, bearer(token));
  if (options.status !== 200) return { options, verify: undefined, device };
  const credential = await device.register(options.body.data, { origin: ORIGIN });
  const verify = await api("POST", "/api/v1/registration/verify", { credential });
  return { options, verify, device };
}

const countRows = async (sql: string, ...values: unknown[]) =>
  (
    await env.DB.prepare(sql)
      .bind(...values)
      .first<{ n: number }>()
  )?.n ?? 0;

describe("registration", () => {
  it("refuses to start registration for a taken username without that account's token", async () => {
    const user = await signUp();
    const response = await registrationOptions({ username: user.username });
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe("USERNAME_TAKEN");
  });

  it.each([
    ["case", (name: string) => `Alice-${name}`, (name: string) => ` ALICE-${name.toUpperCase()} `],
    ["composition", (name: string) => `\u00c5lice-${name}`, (name: string) => `A\u030alice-${name}`],
    ["sharp s", (name: string) => `stra\u00dfe-${name}`, (name: string) => `STRASSE-${name}`],
    [
      // A medial σ typed at the end, and the capitals, whose lower case there is the final ς.
      "sigma",
      (name: string) => `${name}-\u03bf\u03b4\u03bf\u03c3`,
      (name: string) => `${name}-\u039f\u0394\u039f\u03a3`,
    ],
  ])("treats two spellings that differ only by %s as one taken username", async (_case, first, second) => {
    const suffix = uniqueUsername("n");
    const user = await signUp(first(suffix));
    const response = await registrationOptions({ username: second(suffix) });
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe("USERNAME_TAKEN");
    // …and the owner reaches the account with either spelling.
    const own = await registrationOptions({ username: second(suffix) }, bearer(user.token));
    expect(own.status).toBe(200);
    expect(own.body.data.user.id).toBe(user.userId);
  });

  it("refuses an expired registration challenge and creates no account", async () => {
    const username = uniqueUsername();
    const options = await registrationOptions({ username });
    // Sealed again with a past expiry, as only the server key can: the seal is genuine, the time is up.
    options.body.data.challenge = await resealChallenge(options.body.data.challenge, { expiresAt: Date.now() - 1 });
    const credential = await (await SoftAuthenticator.create()).register(options.body.data, { origin: ORIGIN });
    const response = await api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("INVALID_CHALLENGE");
    expect(await countRows("SELECT count(*) AS n FROM users WHERE username = ?", username)).toBe(0);
  });

  it("refuses an expired session token for adding a passkey", async () => {
    const user = await signUp();
    const response = await registrationOptions({ username: user.username }, bearer(await expiredToken(user)));
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("UNAUTHORIZED");
  });

  it("refuses another account's token for a taken username", async () => {
    const alice = await signUp();
    const mallory = await signUp();
    const response = await registrationOptions({ username: alice.username }, bearer(mallory.token));
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe("USERNAME_TAKEN");
  });

  it("refuses a token that does not verify with 401", async () => {
    const user = await signUp();
    const forged = `${user.token.slice(0, -4)}AAAA`;
    const response = await registrationOptions({ username: user.username }, bearer(forged));
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("UNAUTHORIZED");
  });

  it("adds a second passkey with the account's token, excluding the first, and both sign in", async () => {
    const user = await signUp();
    const { options, verify, device } = await addPasskey(user.username, user.token);
    expect(options.status).toBe(200);
    expect(options.body.data.user.id).toBe(user.userId);
    expect(options.body.data.excludeCredentials?.map((c: { id: string }) => c.id)).toEqual([
      user.authenticator.credentialIdBase64URL,
    ]);
    expect(verify?.status).toBe(201);
    expect(verify?.body.data.userId).toBe(user.userId);

    expect((await signIn(user.authenticator, user.username)).body.data.userId).toBe(user.userId);
    expect((await signIn(device, user.username)).body.data.userId).toBe(user.userId);
    const allowed = await api("POST", "/api/v1/authentication/challenge", { username: user.username });
    expect(allowed.body.data.allowCredentials).toHaveLength(2);
  });

  it("refuses a passkey that is already registered, to any account", async () => {
    const user = await signUp();
    const options = await registrationOptions({ username: uniqueUsername() });
    // The same authenticator (same credential id) registering for a second, new account:
    const credential = await user.authenticator.register(options.body.data, { origin: ORIGIN });
    const response = await api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe("CREDENTIAL_EXISTS");
    // The new account was not created without its passkey.
    expect(await countRows("SELECT count(*) AS n FROM users WHERE username = ?", options.body.data.user.name)).toBe(0);
  });

  it(`enforces MAX_CREDENTIALS_PER_USER (${env.MAX_CREDENTIALS_PER_USER})`, async () => {
    const max = Number(env.MAX_CREDENTIALS_PER_USER);
    const user = await signUp();
    for (let i = 1; i < max; i++) {
      const { verify } = await addPasskey(user.username, user.token);
      expect(verify?.status).toBe(201);
    }
    const { options } = await addPasskey(user.username, user.token);
    expect(options.status).toBe(409);
    expect(options.body.error.code).toBe("TOO_MANY_CREDENTIALS");
    expect(await countRows("SELECT count(*) AS n FROM credentials WHERE user_id = ?", user.userId)).toBe(max);
  });

  it("enforces the limit at verify time too, when two additions race", async () => {
    const max = Number(env.MAX_CREDENTIALS_PER_USER);
    const user = await signUp();
    for (let i = 1; i < max - 1; i++) await addPasskey(user.username, user.token);
    // Two challenges issued while one slot is free; both verifies race for it.
    const devices = await Promise.all([SoftAuthenticator.create(), SoftAuthenticator.create()]);
    const credentials = await Promise.all(
      devices.map(async (device) => {
        const options = await registrationOptions({ username: user.username }, bearer(user.token));
        return device.register(options.body.data, { origin: ORIGIN });
      }),
    );
    const results = await Promise.all(
      credentials.map((credential) => api("POST", "/api/v1/registration/verify", { credential })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(await countRows("SELECT count(*) AS n FROM credentials WHERE user_id = ?", user.userId)).toBe(max);
  });

  it("lets only one of two people who start with the same free username get it", async () => {
    const username = uniqueUsername();
    const devices = await Promise.all([SoftAuthenticator.create(), SoftAuthenticator.create()]);
    const credentials = await Promise.all(
      devices.map(async (device) => {
        const options = await registrationOptions({ username });
        return device.register(options.body.data, { origin: ORIGIN });
      }),
    );
    const results = await Promise.all(
      credentials.map((credential) => api("POST", "/api/v1/registration/verify", { credential })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(results.find((r) => r.status === 409)?.body.error.code).toBe("USERNAME_TAKEN");
    expect(
      await countRows(
        "SELECT count(*) AS n FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.username = ?",
        username,
      ),
    ).toBe(1);
  });

  it("returns a credential summary and a session token after sign-up", async () => {
    const authenticator = await SoftAuthenticator.create({ algorithm: "RS256", attestation: "packed" });
    const username = uniqueUsername();
    const options = await registrationOptions({ username, displayName: "Zoë" });
    const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
    const response = await api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(201);
    expect(response.body.data).toMatchObject({
      username,
      credentialId: authenticator.credentialIdBase64URL,
      algorithm: -257,
      attestationFormat: "packed",
      deviceType: "singleDevice",
      backedUp: false,
      userVerified: true,
      transports: ["internal"],
    });
    expect(typeof response.body.data.token).toBe("string");
    const user = await env.DB.prepare("SELECT display_name FROM users WHERE username = ?")
      .bind(username)
      .first<{ display_name: string }>();
    expect(user?.display_name).toBe("Zoë");
  });
});
