import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { api, ORIGIN, registrationOptions, signIn, signUp, uniqueUsername } from "./support/api";
import { type TestWorker, testWorker } from "./support/test-worker";

/** Sign-up through an app run with the given settings, from a page on `origin`. */
async function signUpFrom(app: TestWorker, origin: string) {
  const authenticator = await SoftAuthenticator.create();
  const username = uniqueUsername("origin");
  const options = await app.api("POST", "/api/v1/registration/challenge", { username });
  const credential = await authenticator.register(options.body.data, { origin });
  const verified = await app.api("POST", "/api/v1/registration/verify", { credential });
  return { authenticator, username, verified };
}

async function accountExists(username: string): Promise<boolean> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE username = ?")
    .bind(username)
    .first<{ n: number }>();
  return (row?.n ?? 0) > 0;
}

describe("RP_ORIGINS http://localhost:* (local development on any port)", () => {
  const anyPort = testWorker({ env: { RP_ID: "localhost", RP_ORIGINS: "http://localhost:*" } });

  it("accepts a sign-up from another port, and a sign-in from yet another one", async () => {
    const { authenticator, username, verified } = await signUpFrom(anyPort, "http://localhost:8931");
    expect(verified.status).toBe(201);
    const options = await anyPort.api("POST", "/api/v1/authentication/challenge", { username });
    const credential = await authenticator.assert(options.body.data, { origin: "http://localhost:8788" });
    const signedIn = await anyPort.api("POST", "/api/v1/authentication/verify", { credential });
    expect(signedIn.status).toBe(200);
  });

  it.each([
    ["another host", "http://evil.example:8787"],
    ["a host that merely starts with localhost", "http://localhost.evil.example"],
    ["https (list it exactly if the dev server uses it)", "https://localhost:8787"],
    ["127.0.0.1 (not the RP ID's host)", "http://127.0.0.1:8787"],
  ])("still refuses %s, naming the origin and the setting", async (_case, origin) => {
    const { username, verified } = await signUpFrom(anyPort, origin);
    expect(verified.status).toBe(400);
    expect(verified.body.error).toEqual({
      code: "REGISTRATION_FAILED",
      message: `Registration failed: the origin ${origin} is not allowed (RP_ORIGINS)`,
      details: { origin, setting: "RP_ORIGINS" },
    });
    expect(await accountExists(username)).toBe(false);
  });

  it("is a configuration error with any RP ID other than localhost", async () => {
    const worker = testWorker({ env: { RP_ID: "example.com", RP_ORIGINS: "https://example.com,http://localhost:*" } });
    const response = await worker.api("POST", "/api/v1/registration/challenge", { username: uniqueUsername() });
    expect(response.status).toBe(500);
    expect(response.body.error.code).toBe("CONFIGURATION_ERROR");
    expect(response.body.error.details).toEqual({ variables: ["RP_ORIGINS"] });
    expect(response.body.error.message).toContain('needs RP_ID = "localhost"');
  });

  it("is not accepted in CORS_ORIGINS, which lists exact origins only", async () => {
    const worker = testWorker({ env: { CORS_ORIGINS: "http://localhost:*" } });
    const response = await worker.api("GET", "/api/v1/health");
    expect(response.status).toBe(500);
    expect(response.body.error.details).toEqual({ variables: ["CORS_ORIGINS"] });
  });
});

describe("an origin outside RP_ORIGINS (exact origins)", () => {
  // The suite's own configuration: RP_ORIGINS = http://localhost:8787 only.
  it("refuses a sign-up from another port and says which origin and setting", async () => {
    const authenticator = await SoftAuthenticator.create();
    const options = await registrationOptions({ username: uniqueUsername() });
    const credential = await authenticator.register(options.body.data, { origin: "http://localhost:8788" });
    const response = await api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual({ origin: "http://localhost:8788", setting: "RP_ORIGINS" });
  });

  it("refuses a sign-in from another port and says which origin and setting", async () => {
    const user = await signUp();
    const response = await signIn(user.authenticator, user.username, { origin: "http://localhost:8788" });
    expect(response.status).toBe(401);
    expect(response.body.error).toEqual({
      code: "AUTHENTICATION_FAILED",
      message: "Authentication failed: the origin http://localhost:8788 is not allowed (RP_ORIGINS)",
      details: { origin: "http://localhost:8788", setting: "RP_ORIGINS" },
    });
  });

  it("keeps every other failure reason opaque", async () => {
    const user = await signUp();
    const response = await signIn(user.authenticator, user.username, { origin: ORIGIN, corruptSignature: true });
    expect(response.body.error).toEqual({ code: "AUTHENTICATION_FAILED", message: "Authentication failed" });
  });
});
