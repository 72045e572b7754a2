import { env } from "cloudflare:workers";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { api, bearer, ORIGIN, signIn, signUp } from "./support/api";
import { testWorker } from "./support/test-worker";

describe("session tokens", () => {
  it("publishes the signing key at /.well-known/jwks.json with a kid", async () => {
    const response = await api("GET", "/.well-known/jwks.json");
    expect(response.status).toBe(200);
    const jwks = response.body as unknown as { keys: Record<string, string>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(jwks.keys[0]?.kid).toMatch(/^[\w-]{43}$/);
    expect(jwks.keys[0]).not.toHaveProperty("d");
  });

  it("issues a token an app backend can verify with the JWKS alone", async () => {
    const user = await signUp();
    const signedIn = await signIn(user.authenticator, user.username);
    const { token } = signedIn.body.data;
    const jwks = (await api("GET", "/.well-known/jwks.json")).body as unknown as Parameters<
      typeof createLocalJWKSet
    >[0];

    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: "https://localhost",
      audience: "localhost",
      algorithms: ["ES256"],
    });
    expect(protectedHeader.kid).toBe(jwks.keys[0]?.kid);
    expect(payload).toMatchObject({
      sub: user.userId,
      username: user.username,
      cid: signedIn.body.data.passkeyId,
      uv: true,
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
  });

  it("signs with ES256 and states its type", async () => {
    const user = await signUp();
    expect(decodeProtectedHeader(user.token)).toMatchObject({ alg: "ES256", typ: "JWT" });
  });
});

describe("session key rotation (SESSION_SIGNING_KEY as a list, newest first)", () => {
  const newKey = async () => {
    const { privateKey } = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    return JSON.stringify(await crypto.subtle.exportKey("jwk", privateKey));
  };

  it("signs with the first key, publishes and accepts all, so tokens in flight survive a rotation", async () => {
    const old = env.SESSION_SIGNING_KEY;
    const next = await newKey();
    const user = await signUp();
    const beforeRotation = user.token;

    // Step 1 publishes the new key while the old one still signs; step 2 signs with the new one.
    const rotated = testWorker({ env: { SESSION_SIGNING_KEY: `[${next},${old}]` } });
    const jwks = (await rotated.api("GET", "/.well-known/jwks.json")).body as unknown as { keys: { kid: string }[] };
    expect(jwks.keys).toHaveLength(2);
    expect((await rotated.api("GET", "/api/v1/me", undefined, bearer(beforeRotation))).status).toBe(200);

    const options = await rotated.api("POST", "/api/v1/authentication/challenge", { username: user.username });
    const credential = await user.authenticator.assert(options.body.data, { origin: ORIGIN });
    const signedIn = await rotated.api("POST", "/api/v1/authentication/verify", { credential });
    const afterRotation = signedIn.body.data.token as string;
    expect(decodeProtectedHeader(afterRotation).kid).toBe(jwks.keys[0]?.kid);
    expect(decodeProtectedHeader(beforeRotation).kid).toBe(jwks.keys[1]?.kid);

    // Step 3 drops the old key: its tokens are refused, the new key's are not.
    const done = testWorker({ env: { SESSION_SIGNING_KEY: next } });
    expect((await done.api("GET", "/api/v1/me", undefined, bearer(beforeRotation))).status).toBe(401);
    expect((await done.api("GET", "/api/v1/me", undefined, bearer(afterRotation))).status).toBe(200);
  });

  it.each([
    ["an empty list", "[]"],
    ["a public key only", JSON.stringify({ kty: "EC", crv: "P-256", x: "AA", y: "AA" })],
    ["a point that is not on the curve", JSON.stringify({ kty: "EC", crv: "P-256", x: "AA", y: "AA", d: "AA" })],
  ])("refuses %s as a CONFIGURATION_ERROR naming SESSION_SIGNING_KEY", async (_case, value) => {
    const worker = testWorker({ env: { SESSION_SIGNING_KEY: value } });
    const response = await worker.api("GET", "/api/v1/health");
    expect(response.status).toBe(500);
    expect(response.body.error).toMatchObject({
      code: "CONFIGURATION_ERROR",
      details: { variables: ["SESSION_SIGNING_KEY"] },
    });
  });
});
