import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  verifyAuthenticationResponse,
} from "@simplewebauthn/server";
import type { Config } from "../config/config";
import type { CredentialIdProtection } from "../crypto/credential-id-protection";
import { type Bytes, fromBase64URL, toBase64URL } from "../crypto/encoding";
import type { CredentialDescriptor } from "./credential-descriptors";

/**
 * What real passkeys look like in allowCredentials, by the credential id lengths observed
 * for common authenticators (as collected in webauthn-rs `fake.rs`) and the transports
 * their browsers report. Weights are per mille.
 */
type Profile = { length: number; transports: AuthenticatorTransport[] };
const googlePasswordManager: Profile = { length: 65, transports: ["hybrid", "internal"] };
const iCloudKeychain: Profile = { length: 20, transports: ["hybrid", "internal"] };
const passwordManager: Profile = { length: 16, transports: ["hybrid", "internal"] };
const windowsHello: Profile = { length: 32, transports: ["internal"] };
const securityKey: Profile = { length: 64, transports: ["nfc", "usb"] };

// Most accounts hold one synced passkey from a phone; a few add a laptop or a security key.
const accountSizes: [number, number][] = [
  [1, 800],
  [2, 160],
  [3, 40],
];
const onlyPasskey: [Profile, number][] = [
  [googlePasswordManager, 680],
  [iCloudKeychain, 300],
  [passwordManager, 20],
];
const oneOfSeveral: [Profile, number][] = [
  [googlePasswordManager, 500],
  [iCloudKeychain, 330],
  [windowsHello, 90],
  [securityKey, 40],
  [passwordManager, 40],
];

/**
 * Plausible allowCredentials for a username with no account (or none that can sign in), so
 * the answer does not reveal who has an account. Stable for a given name, as a real
 * account's list is, and unguessable without the server's index key. The ids never verify:
 * no row has their index, and a ceremony answered with decoys accepts no credential at all.
 *
 * The ids take the same seal-and-open trip through the credential id keys that a real
 * account's stored ids take, so both answers cost the same kind of work.
 */
export async function decoyCredentials(
  username: string,
  protection: CredentialIdProtection,
): Promise<CredentialDescriptor[]> {
  const stream = await byteStream(await protection.derive("decoy-credentials", username), 256);
  const count = pick(accountSizes, stream.u32());
  const table = count === 1 ? onlyPasskey : oneOfSeveral;
  const decoys: CredentialDescriptor[] = [];
  for (let i = 0; i < count; i++) {
    const profile = pick(table, stream.u32());
    const body = stream.bytes(profile.length - DECOY_TAG_BYTES);
    const id = concat(body, await decoyTag(body, protection));
    const index = await protection.blindIndex(id);
    const opened = await protection.open(await protection.seal(id, index), index);
    decoys.push({ id: toBase64URL(opened), transports: [...profile.transports] });
  }
  return decoys;
}

/**
 * Decoy ids end in a tag only the server can compute (a MAC of the rest under the index key),
 * so a decoy can be told from an id the server never issued without knowing the username it
 * was made for. An unknown credential is hinted to the client (the Signal API); a decoy must be
 * refused like a real passkey with a bad signature, or it would tell unknown names from known.
 */
const DECOY_TAG_BYTES = 8;

async function decoyTag(body: Bytes, protection: CredentialIdProtection): Promise<Bytes> {
  return (await protection.derive("decoy-credential-tag", toBase64URL(body))).slice(0, DECOY_TAG_BYTES);
}

/** Whether this id is one of the decoys handed out for some name (under the current index key). */
export async function isDecoyCredentialId(id: Bytes, protection: CredentialIdProtection): Promise<boolean> {
  if (id.length <= DECOY_TAG_BYTES) return false;
  const tag = await decoyTag(id.slice(0, -DECOY_TAG_BYTES), protection);
  return crypto.subtle.timingSafeEqual(tag, id.slice(-DECOY_TAG_BYTES));
}

function concat(a: Bytes, b: Bytes): Bytes {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

// An ES256 public key nobody holds the private key for.
const decoyPublicKey = fromBase64URL(
  "pQECAyYgASFYIDUgJuBwYDhxVccFUGYjioIht0O1csx-6N2m685Gf1apIlggcIEmnnSMO3jY96wVDsK8HFxSS0JOD1vMMq1_vlw-OFY",
);

/**
 * For an assertion whose credential is not ours: runs the same verification a real
 * credential gets, against a key that can never match, so a decoy id costs the same time to
 * refuse as a real id with a bad signature. The outcome is always a refusal.
 */
export async function verifyAgainstDecoyKey(
  response: AuthenticationResponseJSON,
  /** The origins a real credential is checked against, so both fail at the same step. */
  expected: { challenge: string; requireUserVerification: boolean; origins: string[] },
  config: Config,
): Promise<void> {
  try {
    await verifyAuthenticationResponse({
      response,
      expectedChallenge: expected.challenge,
      expectedOrigin: expected.origins,
      expectedRPID: config.rpId,
      requireUserVerification: expected.requireUserVerification,
      credential: { id: response.rawId, publicKey: decoyPublicKey, counter: 0 },
    });
  } catch {
    // Refused either way; only the time spent matters here.
  }
}

function pick<T>(table: [T, number][], draw: number): T {
  const total = table.reduce((sum, [, weight]) => sum + weight, 0);
  let point = draw % total;
  for (const [value, weight] of table) {
    if (point < weight) return value;
    point -= weight;
  }
  throw new Error("weights table is empty");
}

/** A deterministic stream of bytes expanded from a secret seed (HKDF-SHA-256). */
async function byteStream(seed: Bytes, size: number) {
  const key = await crypto.subtle.importKey("raw", seed, "HKDF", false, ["deriveBits"]);
  const buffer = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: new TextEncoder().encode("decoy-credentials") },
      key,
      size * 8,
    ),
  );
  let offset = 0;
  const bytes = (length: number): Bytes => {
    if (offset + length > buffer.length) throw new Error("decoy byte stream exhausted");
    const slice = buffer.slice(offset, offset + length);
    offset += length;
    return slice;
  };
  return { bytes, u32: () => new DataView(bytes(4).buffer).getUint32(0) };
}
