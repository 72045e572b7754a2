import { type Bytes, fromBase64URL, randomBytes, toBase64URL } from "./encoding";

/**
 * Raw credential ids are never stored in the clear: the database holds an HMAC blind
 * index (for lookup) and an AES-256-GCM ciphertext (to list ids back to browsers).
 * Ciphertexts are prefixed with the id of the key that sealed them, so a new key can be
 * put first in CREDENTIAL_ENCRYPTION_KEY while rows sealed under older ones still open.
 */
export class CredentialIdProtection {
  private constructor(
    private readonly indexKey: CryptoKey,
    private readonly currentKeyId: string,
    private readonly sealingKeys: Map<string, CryptoKey>,
  ) {}

  static async fromSecrets(encryptionKeys: string, hmacKey: string): Promise<CredentialIdProtection> {
    const entries = encryptionKeys
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean);
    const sealingKeys = new Map<string, CryptoKey>();
    for (const entry of entries) {
      const [keyId, material] = entry.split(":");
      if (!keyId || !material || !/^[A-Za-z0-9_-]{1,16}$/.test(keyId)) {
        throw new Error("CREDENTIAL_ENCRYPTION_KEY: each entry must be kid:base64url-key");
      }
      const raw = decodeKey(material, "CREDENTIAL_ENCRYPTION_KEY");
      if (raw.length !== 32) throw new Error("CREDENTIAL_ENCRYPTION_KEY: each key must be 32 bytes (AES-256)");
      sealingKeys.set(keyId, await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]));
    }
    const currentKeyId = entries[0]?.split(":")[0];
    if (!currentKeyId) throw new Error("CREDENTIAL_ENCRYPTION_KEY: no key given");

    const hmacRaw = decodeKey(hmacKey, "CREDENTIAL_ID_HMAC_KEY");
    if (hmacRaw.length < 32) throw new Error("CREDENTIAL_ID_HMAC_KEY: must be at least 32 bytes");
    const indexKey = await crypto.subtle.importKey("raw", hmacRaw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new CredentialIdProtection(indexKey, currentKeyId, sealingKeys);
  }

  /** Deterministic lookup key for a raw credential id. */
  async blindIndex(credentialId: Bytes): Promise<string> {
    return toBase64URL(new Uint8Array(await crypto.subtle.sign("HMAC", this.indexKey, credentialId)));
  }

  /** Deterministic bytes for any other purpose, domain-separated from the blind index. */
  async derive(purpose: string, input: string): Promise<Bytes> {
    const data = new TextEncoder().encode(`${purpose}\u0000${input}`);
    return new Uint8Array(await crypto.subtle.sign("HMAC", this.indexKey, data));
  }

  /**
   * The blind index is bound in as associated data, so a ciphertext copied onto another
   * row does not decrypt there.
   */
  async seal(credentialId: Bytes, index: string): Promise<string> {
    const key = this.sealingKeys.get(this.currentKeyId);
    if (!key) throw new Error("current sealing key missing");
    const iv = randomBytes(12);
    const ciphertext = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(index) },
      key,
      credentialId,
    );
    return `${this.currentKeyId}:${toBase64URL(iv)}.${toBase64URL(new Uint8Array(ciphertext))}`;
  }

  async open(sealed: string, index: string): Promise<Bytes> {
    const match = /^([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(sealed);
    const key = match?.[1] ? this.sealingKeys.get(match[1]) : undefined;
    if (!match?.[2] || !match[3] || !key) throw new Error("credential id sealed under an unknown key");
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64URL(match[2]), additionalData: new TextEncoder().encode(index) },
      key,
      fromBase64URL(match[3]),
    );
    return new Uint8Array(plaintext);
  }
}

function decodeKey(material: string, variable: string): Bytes {
  try {
    return fromBase64URL(material);
  } catch {
    throw new Error(`${variable}: key material must be base64url`);
  }
}
