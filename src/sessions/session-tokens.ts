import { calculateJwkThumbprint, exportJWK, importJWK, type JWK, jwtVerify, SignJWT } from "jose";

export type SessionClaims = {
  userId: string;
  username: string;
  /** Our id of the passkey used (never the raw WebAuthn credential id). */
  passkeyId: string;
  userVerified: boolean;
};

export type VerifiedSession = SessionClaims & { expiresAt: Date };

/**
 * Signs and checks the short-lived ES256 session token. The public half is published at
 * /.well-known/jwks.json under a kid (the key's RFC 7638 thumbprint), so a new key can be
 * rolled in by publishing both for a token lifetime.
 */
export class SessionTokens {
  private constructor(
    private readonly privateKey: CryptoKey,
    private readonly publicKey: CryptoKey,
    private readonly publicJwk: JWK,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly ttlSeconds: number,
  ) {}

  static async fromSecret(secret: string, rpId: string, ttlSeconds: number): Promise<SessionTokens> {
    let jwk: JWK;
    try {
      jwk = JSON.parse(secret) as JWK;
    } catch {
      throw new Error("SESSION_SIGNING_KEY: must be an EC P-256 private key as JWK JSON");
    }
    if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.d !== "string") {
      throw new Error("SESSION_SIGNING_KEY: must be an EC P-256 private key as JWK JSON");
    }
    const { d: _private, key_ops: _ops, ext: _ext, ...publicParts } = jwk;
    const kid = await calculateJwkThumbprint(publicParts, "sha256");
    const privateKey = (await importJWK({ ...jwk, alg: "ES256" }, "ES256")) as CryptoKey;
    const publicKey = (await importJWK({ ...publicParts, alg: "ES256" }, "ES256")) as CryptoKey;
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
    return new SessionTokens(privateKey, publicKey, publicJwk, `https://${rpId}`, rpId, ttlSeconds);
  }

  get jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  async issue(claims: SessionClaims): Promise<{ token: string; expiresAt: Date }> {
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = issuedAt + this.ttlSeconds;
    const token = await new SignJWT({
      username: claims.username,
      cid: claims.passkeyId,
      uv: claims.userVerified,
    })
      .setProtectedHeader({ alg: "ES256", kid: this.publicJwk.kid, typ: "JWT" })
      .setSubject(claims.userId)
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(crypto.randomUUID())
      .sign(this.privateKey);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  /** Returns the session, or null for any token that is not ours, altered or expired. */
  async verify(token: string): Promise<VerifiedSession | null> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: ["ES256"],
        issuer: this.issuer,
        audience: this.audience,
        requiredClaims: ["sub", "exp", "iat"],
      });
      if (typeof payload.sub !== "string" || typeof payload.exp !== "number") return null;
      return {
        userId: payload.sub,
        username: typeof payload.username === "string" ? payload.username : "",
        passkeyId: typeof payload.cid === "string" ? payload.cid : "",
        userVerified: payload.uv === true,
        expiresAt: new Date(payload.exp * 1000),
      };
    } catch {
      return null;
    }
  }
}
