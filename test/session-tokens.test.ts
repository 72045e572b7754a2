import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { api, signIn, signUp } from "./support/api";

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
