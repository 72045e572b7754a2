import { ConfigError } from "../errors";
import { type Bytes, fromBase64URL, randomBytes, toBase64URL } from "./encoding";

/** The two stored columns that stand for one raw credential id. */
export type ProtectedCredentialId = { credentialIdHash: string; credentialIdEncrypted: string };

/** One per isolate (it keeps no state between calls), not one per request. */
const utf8 = new TextEncoder();

/**
 * Raw credential ids are never stored in the clear: the database holds an HMAC blind
 * index (for lookup) and an AES-256-GCM ciphertext (to list ids back to browsers).
 *
 * Both keys rotate. Ciphertexts are prefixed with the id of the key that sealed them, so a
 * new key can be put first in CREDENTIAL_ENCRYPTION_KEY while rows sealed under older ones
 * still open. CREDENTIAL_ID_HMAC_KEY may list a previous index key after the current one;
 * lookups then try both indexes (in one query) until every row is re-indexed. A row is
 * brought up to the current keys when its passkey is next used, or by the re-key sweep.
 */
export class CredentialIdProtection {
  private constructor(
    private readonly indexKeys: CryptoKey[],
    readonly currentKeyId: string,
    private readonly sealingKeys: Map<string, CryptoKey>,
  ) {}

  static async fromSecrets(encryptionKeys: string, hmacKeys: string): Promise<CredentialIdProtection> {
    const entries = encryptionKeyEntries(encryptionKeys);
    const sealingKeys = new Map<string, CryptoKey>();
    for (const { keyId, raw } of entries) {
      sealingKeys.set(keyId, await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]));
    }
    const currentKeyId = entries[0]?.keyId;
    if (!currentKeyId) throw new ConfigError("CREDENTIAL_ENCRYPTION_KEY", "no key given");

    const indexKeys: CryptoKey[] = [];
    for (const material of commaList(hmacKeys)) {
      const raw = decodeKey(material, "CREDENTIAL_ID_HMAC_KEY");
      if (raw.length < 32) throw new ConfigError("CREDENTIAL_ID_HMAC_KEY", "each key must be at least 32 bytes");
      indexKeys.push(await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]));
    }
    if (indexKeys.length === 0) throw new ConfigError("CREDENTIAL_ID_HMAC_KEY", "no key given");
    return new CredentialIdProtection(indexKeys, currentKeyId, sealingKeys);
  }

  /** Deterministic lookup key for a raw credential id, under the current index key. */
  async blindIndex(credentialId: Bytes): Promise<string> {
    return this.indexUnder(this.currentIndexKey, credentialId);
  }

  /**
   * Every index the id may be stored under: the current one first, then one per previous
   * index key still configured. Outside a rotation this is just the current index.
   */
  async blindIndexes(credentialId: Bytes): Promise<string[]> {
    return Promise.all(this.indexKeys.map((key) => this.indexUnder(key, credentialId)));
  }

  /** Deterministic bytes for any other purpose, domain-separated from the blind index. */
  async derive(purpose: string, input: string): Promise<Bytes> {
    const data = utf8.encode(`${purpose}\u0000${input}`);
    return new Uint8Array(await crypto.subtle.sign("HMAC", this.currentIndexKey, data));
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
      { name: "AES-GCM", iv, additionalData: utf8.encode(index) },
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
      { name: "AES-GCM", iv: fromBase64URL(match[2]), additionalData: utf8.encode(index) },
      key,
      fromBase64URL(match[3]),
    );
    return new Uint8Array(plaintext);
  }

  /**
   * The columns a row should hold under the current keys, or null when it already does.
   * Callers that just verified an assertion know the raw id; the sweep opens it first.
   */
  async upToDate(credentialId: Bytes, stored: ProtectedCredentialId): Promise<ProtectedCredentialId | null> {
    const credentialIdHash = await this.blindIndex(credentialId);
    if (
      credentialIdHash === stored.credentialIdHash &&
      sealedKeyId(stored.credentialIdEncrypted) === this.currentKeyId
    ) {
      return null;
    }
    return { credentialIdHash, credentialIdEncrypted: await this.seal(credentialId, credentialIdHash) };
  }

  /** How many keys of each kind are configured; more than one means a rotation is under way. */
  get keyCounts(): { sealing: number; index: number } {
    return { sealing: this.sealingKeys.size, index: this.indexKeys.length };
  }

  private get currentIndexKey(): CryptoKey {
    const key = this.indexKeys[0];
    if (!key) throw new Error("index key missing");
    return key;
  }

  private async indexUnder(key: CryptoKey, credentialId: Bytes): Promise<string> {
    return toBase64URL(new Uint8Array(await crypto.subtle.sign("HMAC", key, credentialId)));
  }
}

/**
 * CREDENTIAL_ENCRYPTION_KEY parsed: `kid:base64url` entries, newest first, each 32 bytes.
 * Challenge sealing (challenge-sealing.ts) derives its own keys from the same entries.
 */
export function encryptionKeyEntries(secret: string): { keyId: string; raw: Bytes }[] {
  const entries: { keyId: string; raw: Bytes }[] = [];
  for (const entry of commaList(secret)) {
    const [keyId, material, extra] = entry.split(":");
    if (!keyId || !material || extra !== undefined || !/^[A-Za-z0-9_-]{1,16}$/.test(keyId)) {
      throw new ConfigError("CREDENTIAL_ENCRYPTION_KEY", "each entry must be kid:base64url-key");
    }
    if (entries.some((known) => known.keyId === keyId)) {
      throw new ConfigError("CREDENTIAL_ENCRYPTION_KEY", "key ids must be unique");
    }
    const raw = decodeKey(material, "CREDENTIAL_ENCRYPTION_KEY");
    if (raw.length !== 32) throw new ConfigError("CREDENTIAL_ENCRYPTION_KEY", "each key must be 32 bytes (AES-256)");
    entries.push({ keyId, raw });
  }
  return entries;
}

/** The id of the key a stored ciphertext was sealed under (the text before the first colon). */
export function sealedKeyId(sealed: string): string {
  return sealed.slice(0, Math.max(0, sealed.indexOf(":")));
}

function commaList(value: string): string[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
}

function decodeKey(material: string, variable: string): Bytes {
  try {
    return fromBase64URL(material);
  } catch {
    throw new ConfigError(variable, "key material must be base64url");
  }
}
