// Fresh secrets for local development and tests. Nothing generated here is ever committed.
import { webcrypto } from "node:crypto";

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");

export async function generateSecrets() {
  const session = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
  const jwk = await webcrypto.subtle.exportKey("jwk", session.privateKey);
  return {
    CREDENTIAL_ENCRYPTION_KEY: `k1:${base64url(webcrypto.getRandomValues(new Uint8Array(32)))}`,
    CREDENTIAL_ID_HMAC_KEY: base64url(webcrypto.getRandomValues(new Uint8Array(32))),
    SESSION_SIGNING_KEY: JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }),
    ADMIN_API_KEY: base64url(webcrypto.getRandomValues(new Uint8Array(32))),
  };
}
