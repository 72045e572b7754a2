import { ConfigError } from "../errors";
import { encryptionKeyEntries } from "./credential-id-protection";
import { type Bytes, randomBytes } from "./encoding";

// Key separation: the sealing keys of challenges are derived (HKDF-SHA-256) from the
// CREDENTIAL_ENCRYPTION_KEY entries under their own label, so no ciphertext of one purpose
// can ever be opened as the other, and operators have no extra secret to provision.
const HKDF_INFO = new TextEncoder().encode("edge-passkey-server/ceremony-challenge/v1");
const HKDF_SALT = new Uint8Array(32);
// Bound into every seal as associated data, with the format version.
const AAD = new TextEncoder().encode("ceremony-challenge:v1");
const IV_BYTES = 12;
// One of each per isolate (neither keeps state between calls), not one per request.
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
/**
 * Plaintexts are padded (with JSON whitespace) to a multiple of this, so a challenge's length
 * does not tell states of one size class apart: a sign-in for a real account and the decoy
 * answer for an unknown name both seal under 256 bytes and so look exactly alike.
 */
const PADDING_BLOCK = 256;

/**
 * Seals a ceremony's state into the WebAuthn challenge itself (AES-256-GCM, random IV): the
 * challenge is `iv || ciphertext || tag`, unpredictable, and unforgeable without the server key.
 * Only the current key seals; every configured key opens, so a key rotation does not break
 * ceremonies in flight.
 */
export class ChallengeSealing {
  private constructor(private readonly keys: CryptoKey[]) {}

  static async fromSecret(encryptionKeys: string): Promise<ChallengeSealing> {
    const entries = encryptionKeyEntries(encryptionKeys);
    if (entries.length === 0) throw new ConfigError("CREDENTIAL_ENCRYPTION_KEY", "no key given");
    const keys = await Promise.all(
      entries.map(async ({ raw }) => {
        const base = await crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveKey"]);
        return crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: HKDF_SALT, info: HKDF_INFO },
          base,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        );
      }),
    );
    return new ChallengeSealing(keys);
  }

  async seal(payload: unknown): Promise<Bytes> {
    const [key] = this.keys;
    if (!key) throw new Error("challenge sealing key missing");
    const iv = randomBytes(IV_BYTES);
    const json = utf8Encoder.encode(JSON.stringify(payload));
    const plaintext = new Uint8Array(Math.ceil(json.length / PADDING_BLOCK) * PADDING_BLOCK).fill(0x20);
    plaintext.set(json);
    const ciphertext = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: AAD }, key, plaintext),
    );
    const sealed = new Uint8Array(IV_BYTES + ciphertext.length);
    sealed.set(iv);
    sealed.set(ciphertext, IV_BYTES);
    return sealed;
  }

  /** The sealed payload, or null for anything this server did not seal (or that was altered). */
  async open(sealed: Bytes): Promise<unknown> {
    // 16 bytes is GCM's tag alone: anything shorter cannot be one of ours.
    if (sealed.length <= IV_BYTES + 16) return null;
    const iv = sealed.slice(0, IV_BYTES);
    const ciphertext = sealed.slice(IV_BYTES);
    for (const key of this.keys) {
      try {
        const plaintext = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: AAD }, key, ciphertext);
        return JSON.parse(utf8Decoder.decode(plaintext));
      } catch {
        // Not sealed under this key: try the next (only during a key rotation).
      }
    }
    return null;
  }
}
