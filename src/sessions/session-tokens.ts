import {
  calculateJwkThumbprint,
  exportJWK,
  importJWK,
  type JWK,
  type JWTHeaderParameters,
  jwtVerify,
  SignJWT,
} from "jose";
import { ConfigError } from "../errors";

export type SessionClaims = {
  userId: string;
  username: string;
  /** Our id of the passkey used (never the raw WebAuthn credential id). */
  passkeyId: string;
  userVerified: boolean;
  /**
   * When the ceremony that proved who the user is happened (the `auth_time` claim): the
   * step-up rule (src/accounts/step-up.ts) counts from it. Defaults to the time of issue.
   */
  authenticatedAt?: Date;
};

export type VerifiedSession = Omit<SessionClaims, "authenticatedAt"> & {
  /** The token's `jti`: what sign-out revokes. */
  sessionId: string;
  /** Null for a token without `auth_time` (issued before the claim existed): never recent. */
  authenticatedAt: Date | null;
  expiresAt: Date;
};

type SigningKey = { kid: string; privateKey: CryptoKey; publicKey: CryptoKey; publicJwk: JWK };

const badSecret = () =>
  new ConfigError(
    "SESSION_SIGNING_KEY",
    "must be an EC P-256 private key as JWK JSON, or a JSON array of them (newest first)",
  );

/**
 * Signs and checks the short-lived ES256 session token. Public halves are published at
 * /.well-known/jwks.json under a kid (the key's RFC 7638 thumbprint). SESSION_SIGNING_KEY is
 * one private JWK, or a JSON array of them: the first signs, all verify and are published,
 * so a key is rotated without breaking tokens in flight (docs/configuration.md "Rotating the session key").
 */
export class SessionTokens {
  private constructor(
    private readonly keys: SigningKey[],
    private readonly issuer: string,
    private readonly audience: string,
    private readonly ttlSeconds: number,
  ) {}

  static async fromSecret(secret: string, rpId: string, ttlSeconds: number): Promise<SessionTokens> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(secret);
    } catch {
      throw badSecret();
    }
    const jwks = Array.isArray(parsed) ? parsed : [parsed];
    if (jwks.length === 0 || jwks.length > 4) throw badSecret();
    const keys = await Promise.all(jwks.map((jwk) => importSigningKey(jwk)));
    if (new Set(keys.map((key) => key.kid)).size !== keys.length) throw badSecret();
    return new SessionTokens(keys, `https://${rpId}`, rpId, ttlSeconds);
  }

  get jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((key) => key.publicJwk) };
  }

  private get signing(): SigningKey {
    // fromSecret refuses an empty list.
    return this.keys[0] as SigningKey;
  }

  async issue(claims: SessionClaims): Promise<{ token: string; expiresAt: Date }> {
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = issuedAt + this.ttlSeconds;
    const token = await new SignJWT({
      username: claims.username,
      cid: claims.passkeyId,
      uv: claims.userVerified,
      auth_time: claims.authenticatedAt ? Math.floor(claims.authenticatedAt.getTime() / 1000) : issuedAt,
    })
      .setProtectedHeader({ alg: "ES256", kid: this.signing.kid, typ: "JWT" })
      .setSubject(claims.userId)
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(crypto.randomUUID())
      .sign(this.signing.privateKey);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  /** Returns the session, or null for any token that is not ours, altered or expired. */
  async verify(token: string): Promise<VerifiedSession | null> {
    try {
      // The kid picks the key; a token naming none of ours is refused (no trying each key).
      const key = (header: JWTHeaderParameters) => {
        const found = this.keys.find((candidate) => candidate.kid === header.kid);
        if (!found) throw new Error("unknown kid");
        return found.publicKey;
      };
      const { payload } = await jwtVerify(token, key, {
        algorithms: ["ES256"],
        issuer: this.issuer,
        audience: this.audience,
        // Every token this server has issued carries a jti; one without could not be signed out.
        requiredClaims: ["sub", "exp", "iat", "jti"],
      });
      if (typeof payload.sub !== "string" || typeof payload.exp !== "number" || typeof payload.jti !== "string") {
        return null;
      }
      return {
        userId: payload.sub,
        username: typeof payload.username === "string" ? payload.username : "",
        passkeyId: typeof payload.cid === "string" ? payload.cid : "",
        userVerified: payload.uv === true,
        sessionId: payload.jti,
        authenticatedAt: typeof payload.auth_time === "number" ? new Date(payload.auth_time * 1000) : null,
        expiresAt: new Date(payload.exp * 1000),
      };
    } catch {
      return null;
    }
  }
}

async function importSigningKey(value: unknown): Promise<SigningKey> {
  if (typeof value !== "object" || value === null) throw badSecret();
  const jwk = value as JWK;
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.d !== "string") throw badSecret();
  const { d: _private, key_ops: _ops, ext: _ext, kid: _kid, alg: _alg, use: _use, ...publicParts } = jwk;
  try {
    const kid = await calculateJwkThumbprint(publicParts, "sha256");
    const privateKey = (await importJWK({ ...jwk, alg: "ES256" }, "ES256")) as CryptoKey;
    const publicKey = (await importJWK({ ...publicParts, alg: "ES256" }, "ES256")) as CryptoKey;
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
    return { kid, privateKey, publicKey, publicJwk };
  } catch {
    throw badSecret();
  }
}
