import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, assertion, signUp } from "./support/api";
import { testWorker } from "./support/test-worker";

const endpoints = [
  "/api/v1/registration/challenge",
  "/api/v1/registration/verify",
  "/api/v1/authentication/challenge",
  "/api/v1/authentication/verify",
];

describe("bad requests get a 4xx envelope, never a 500", () => {
  it.each(endpoints)("%s refuses malformed JSON with 400 INVALID_REQUEST", async (path) => {
    const response = await api("POST", path, "{not json");
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ status: "error", error: { code: "INVALID_REQUEST" } });
  });

  it.each(endpoints)("%s refuses a body of the wrong shape with 400 VALIDATION_ERROR", async (path) => {
    const response = await api("POST", path, { credential: { id: false }, username: 12 });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
    expect(Array.isArray(response.body.error.details)).toBe(true);
  });

  it.each(endpoints)("%s refuses a non-JSON content type with 415", async (path) => {
    const response = await api("POST", path, "username=alice", { "content-type": "application/x-www-form-urlencoded" });
    expect(response.status).toBe(415);
    expect(response.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("refuses an oversize body with 413", async () => {
    const response = await api("POST", "/api/v1/registration/challenge", { username: "x".repeat(100_000) });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("refuses unknown fields in request bodies", async () => {
    const response = await api("POST", "/api/v1/authentication/challenge", { username: "a", isAdmin: true });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
  });

  it.each([
    ["padded", (value: string) => `${value}==`],
    ["standard base64", (value: string) => value.replace(/-/g, "+").replace(/_/g, "/")],
  ])("refuses %s in a binary field of an otherwise valid assertion", async (_case, respell) => {
    const user = await signUp();
    // A signature is DER: with 70+ bytes it all but surely holds a '-' or '_' to respell;
    // find one (and a length that needs padding) so the test always changes the spelling.
    let credential = await assertion(user.authenticator, user.username);
    while (respell(credential.response.signature) === credential.response.signature) {
      credential = await assertion(user.authenticator, user.username);
    }
    const tampered = {
      ...credential,
      response: { ...credential.response, signature: respell(credential.response.signature) },
    };
    const response = await api("POST", "/api/v1/authentication/verify", { credential: tampered });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
    expect(JSON.stringify(response.body.error.details)).toContain("signature");
  });

  it("refuses clientDataJSON that is not client data with 400", async () => {
    const notClientData = btoa("hello").replace(/=+$/, "");
    const credential = {
      id: "AAAA",
      rawId: "AAAA",
      type: "public-key",
      response: { clientDataJSON: notClientData, authenticatorData: "AAAA", signature: "AAAA" },
      clientExtensionResults: {},
    };
    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("INVALID_REQUEST");
  });

  it("answers unknown routes with a 404 envelope", async () => {
    const response = await api("GET", "/api/v1/nothing-here");
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ status: "error", error: { code: "NOT_FOUND" } });
  });

  it("refuses usernames with control characters", async () => {
    const response = await api("POST", "/api/v1/registration/challenge", { username: "ali\u0000ce" });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
  });
});

describe("configuration errors", () => {
  async function fetchWith(overrides: Record<string, unknown>, path = "/api/v1/authentication/challenge") {
    const request = new Request(`http://localhost:8787${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    const response = await testWorker({ env: overrides }).fetch(request);
    return {
      status: response.status,
      body: (await response.json()) as { error: { code: string; message: string; details?: { variables: string[] } } },
    };
  }

  it("answers with a 500 naming a bad variable", async () => {
    const { status, body } = await fetchWith({ RP_ORIGINS: "not-a-url" });
    expect(status).toBe(500);
    expect(body.error.code).toBe("CONFIGURATION_ERROR");
    expect(body.error.details?.variables).toEqual(["RP_ORIGINS"]);
  });

  it("answers with a 500 naming a missing secret, without echoing any secret", async () => {
    const { status, body } = await fetchWith({ SESSION_SIGNING_KEY: undefined });
    expect(status).toBe(500);
    expect(body.error.details?.variables).toEqual(["SESSION_SIGNING_KEY"]);
    expect(JSON.stringify(body)).not.toContain(String(env.CREDENTIAL_ID_HMAC_KEY));
  });

  it("names a secret whose key material is unusable", async () => {
    const { status, body } = await fetchWith({ CREDENTIAL_ENCRYPTION_KEY: "k1:dG9vLXNob3J0" });
    expect(status).toBe(500);
    expect(body.error.details?.variables).toEqual(["CREDENTIAL_ENCRYPTION_KEY"]);
  });

  it("keeps serving with the real configuration", async () => {
    const response = await testWorker().fetch(new Request("http://localhost:8787/api/v1/health"));
    expect(response.status).toBe(200);
  });
});

describe("a known path asked with a method it does not have", () => {
  it.each([
    ["GET", "/api/v1/registration/verify", "POST"],
    ["PUT", "/api/v1/authentication/challenge", "POST"],
    ["PATCH", "/api/v1/registration/challenge", "POST"],
    ["POST", "/api/v1/health", "GET, HEAD"],
    ["POST", "/api/v1/credentials", "GET, HEAD"],
    ["PUT", "/api/v1/credentials/some-id", "DELETE, PATCH"],
    ["POST", "/api/v1/me", "DELETE, GET, HEAD"],
    ["DELETE", "/.well-known/jwks.json", "GET, HEAD"],
  ])("%s %s answers 405 with Allow: %s (not 404, 415 or 401)", async (method, path, allow) => {
    const response = await api(method, path, method === "GET" ? undefined : {});
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe(allow);
    expect(response.body.error).toMatchObject({ code: "METHOD_NOT_ALLOWED", details: { allowed: allow.split(", ") } });
  });

  it("an unknown path is still 404, and a known method still reaches its route", async () => {
    expect((await api("GET", "/api/v1/nothing-here")).status).toBe(404);
    expect((await api("GET", "/api/v1/health")).status).toBe(200);
  });
});
