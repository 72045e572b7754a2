import { AuthorizationList, IntegerSet, id_ce_keyDescription, KeyDescription } from "@peculiar/asn1-android";
import { AsnSerializer, OctetString } from "@peculiar/asn1-schema";
import * as x509 from "@peculiar/x509";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { CompactSign } from "jose";
import {
  COSE_ALG,
  cbor,
  concat,
  encodeCOSEPublicKey,
  generateKeyPair,
  type KeyAlgorithm,
  sign,
} from "../authenticator/cose";
import { ORIGIN } from "../support/api";
import { base64Certificate, type IssuedBatch, type TestCA } from "./binding-client";

// Registrations whose attestation statement the test writes itself, for what our software
// authenticator cannot produce: android-key and apple attestations (the leaf certificate holds
// the credential key and a challenge-bound extension) and packed statements signed by a key of
// the test's choosing. Everything else is what a real authenticator sends.

// biome-ignore lint/suspicious/noExplicitAny: creation options arrive as loose binding JSON.
type Loose = any;

export type CredentialKey = { keys: CryptoKeyPair; algorithm: KeyAlgorithm; publicKeyCOSE: Uint8Array };

export async function credentialKey(algorithm: KeyAlgorithm = "ES256"): Promise<CredentialKey> {
  const keys = await generateKeyPair(algorithm);
  return { keys, algorithm, publicKeyCOSE: await encodeCOSEPublicKey(algorithm, keys.publicKey) };
}

/** What the attestation statement is computed over. */
export type SignedParts = {
  authData: Uint8Array<ArrayBuffer>;
  clientDataHash: Uint8Array<ArrayBuffer>;
  credential: CredentialKey;
};

const sha256 = async (data: Uint8Array<ArrayBuffer>) => new Uint8Array(await crypto.subtle.digest("SHA-256", data));
const utf8 = (text: string) => new Uint8Array(new TextEncoder().encode(text));

/** A RegistrationResponseJSON for the options, with the statement `attStmt` builds. */
export async function craftedRegistration(
  options: Loose,
  spec: {
    fmt: string;
    aaguid: Uint8Array;
    credential?: CredentialKey;
    /** Any CBOR value: a map of the format's members, or (negative tests) something else. */
    attStmt: (parts: SignedParts) => Promise<unknown>;
    credentialId?: Uint8Array<ArrayBuffer>;
    /** Default UP | UV | AT. */
    flags?: number;
    /** Changes authData before the statement is made over it, so a signature covers the change. */
    authData?: (authData: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>;
    /** Changes the encoded attestation object, after everything was signed. */
    attestationObject?: (encoded: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>;
  },
): Promise<Record<string, unknown>> {
  const credential = spec.credential ?? (await credentialKey());
  const credentialId = spec.credentialId ?? crypto.getRandomValues(new Uint8Array(32));
  const clientDataJSON = utf8(
    JSON.stringify({ type: "webauthn.create", challenge: options.challenge, origin: ORIGIN, crossOrigin: false }),
  );
  const idLength = new Uint8Array([credentialId.length >> 8, credentialId.length & 0xff]);
  // Flags: UP | UV | AT unless told; counter 0.
  const written = concat(
    await sha256(utf8(options.rp.id)),
    new Uint8Array([spec.flags ?? 0x45, 0, 0, 0, 0]),
    spec.aaguid,
    idLength,
    credentialId,
    credential.publicKeyCOSE,
  );
  const authData = spec.authData ? spec.authData(written) : written;
  const clientDataHash = await sha256(clientDataJSON);
  const attStmt = await spec.attStmt({ authData, clientDataHash, credential });
  const encoded = cbor({ fmt: spec.fmt, attStmt, authData });
  const id = isoBase64URL.fromBuffer(credentialId);
  return {
    id,
    rawId: id,
    type: "public-key",
    response: {
      clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
      attestationObject: isoBase64URL.fromBuffer(spec.attestationObject ? spec.attestationObject(encoded) : encoded),
    },
    getClientExtensionResults: {},
  };
}

/** Packed full attestation: the batch certificate chain, with `alg`/`sig` made by the key the test picks. */
export function packedStatement(x5c: Uint8Array[], signer: { privateKey: CryptoKey; algorithm: KeyAlgorithm }) {
  return async ({ authData, clientDataHash }: SignedParts) => ({
    alg: COSE_ALG[signer.algorithm],
    sig: await sign(signer.algorithm, signer.privateKey, concat(authData, clientDataHash)),
    x5c,
  });
}

/**
 * fido-u2f: the batch key signs 0x00 | rpIdHash | clientDataHash | credentialId | the
 * credential key as an uncompressed P-256 point (FIDO U2F raw message formats), all read from
 * the authenticator data it is given.
 */
export function u2fStatement(batch: { x5c: Uint8Array[]; privateKey: CryptoKey; algorithm: KeyAlgorithm }) {
  return async ({ authData, clientDataHash, credential }: SignedParts) => {
    const jwk = await crypto.subtle.exportKey("jwk", credential.keys.publicKey);
    if (jwk instanceof ArrayBuffer) throw new Error("expected a JWK");
    const idLength = ((authData[53] ?? 0) << 8) | (authData[54] ?? 0);
    const point = concat(
      new Uint8Array([0x04]),
      isoBase64URL.toBuffer(jwk.x ?? ""),
      isoBase64URL.toBuffer(jwk.y ?? ""),
    );
    const signed = concat(
      new Uint8Array([0x00]),
      authData.subarray(0, 32),
      clientDataHash,
      authData.subarray(55, 55 + idLength),
      point,
    );
    return { sig: await sign(batch.algorithm, batch.privateKey, signed), x5c: batch.x5c };
  };
}

/**
 * The Android key description extension (1.3.6.1.4.1.11129.2.1.17) with the given attestation
 * challenge, for a key generated in the TEE for signing (KM_ORIGIN_GENERATED, KM_PURPOSE_SIGN)
 * unless `teeEnforced` says otherwise.
 */
export function androidKeyDescription(
  attestationChallenge: Uint8Array,
  teeEnforced: { origin?: number; purpose?: number[] } = { origin: 0, purpose: [2] },
): x509.Extension {
  const description = new KeyDescription({
    attestationVersion: 3,
    keymasterVersion: 4,
    attestationChallenge: new OctetString(attestationChallenge),
    softwareEnforced: new AuthorizationList(),
    teeEnforced: new AuthorizationList({
      ...(teeEnforced.origin === undefined ? {} : { origin: teeEnforced.origin }),
      ...(teeEnforced.purpose ? { purpose: new IntegerSet(teeEnforced.purpose) } : {}),
    }),
  });
  return new x509.Extension(id_ce_keyDescription, false, AsnSerializer.serialize(description));
}

/**
 * android-key: the leaf certificate is the credential key's, its key description carries
 * clientDataHash as the attestation challenge, the chain ends with its root (as on devices),
 * and the credential key signs authData || clientDataHash.
 */
export function androidKeyStatement(
  ca: TestCA,
  options: {
    challenge?: (clientDataHash: Uint8Array) => Uint8Array;
    /** Another key in the leaf instead of the credential's (Resp-A F-2). */
    leafKeys?: CryptoKeyPair;
    /** The TEE authorization list's origin and purposes (default: generated, sign). */
    teeEnforced?: { origin?: number; purpose?: number[] };
    intermediates?: number;
    misordered?: boolean;
  } = {},
) {
  return async ({ authData, clientDataHash, credential }: SignedParts) => {
    const batch = await ca.issueBatch({
      keys: options.leafKeys ?? credential.keys,
      subject: "CN=Android Keystore Key",
      extensions: [androidKeyDescription(options.challenge?.(clientDataHash) ?? clientDataHash, options.teeEnforced)],
      intermediates: options.intermediates ?? 1,
      misordered: options.misordered,
      includeRoot: true,
    });
    return {
      alg: COSE_ALG[credential.algorithm],
      sig: await sign(credential.algorithm, credential.keys.privateKey, concat(authData, clientDataHash)),
      x5c: batch.x5c,
    };
  };
}

/**
 * apple (anonymous attestation): the leaf certificate is the credential key's, and its
 * extension 1.2.840.113635.100.8.2 holds nonce = SHA-256(authData || clientDataHash).
 */
export function appleStatement(ca: TestCA, options: { nonce?: (nonce: Uint8Array) => Uint8Array } = {}) {
  return async ({ authData, clientDataHash, credential }: SignedParts) => {
    const nonce = await sha256(concat(authData, clientDataHash));
    const value = options.nonce?.(nonce) ?? nonce;
    // SEQUENCE { [1] EXPLICIT OCTET STRING (32 bytes) }
    const extension = new x509.Extension(
      "1.2.840.113635.100.8.2",
      false,
      concat(new Uint8Array([0x30, 0x24, 0xa1, 0x22, 0x04, 0x20]), value),
    );
    const batch = await ca.issueBatch({
      keys: credential.keys,
      subject: "CN=Test Apple Credential, O=Test Vendor, C=US",
      extensions: [extension],
      intermediate: true,
    });
    return { x5c: batch.x5c };
  };
}

/** The "attest.android.com" certificate (RS256, through an intermediate) that signs SafetyNet JWSs. */
export const safetyNetSigner = (ca: TestCA) =>
  ca.issueBatch({ algorithm: "RS256", subject: "CN=attest.android.com, O=Test", intermediate: true });

/**
 * android-safetynet: a SafetyNet attestation JWS (RS256, signed by an "attest.android.com"
 * certificate chain in its header) whose nonce is base64(SHA-256(authData || clientDataHash)).
 */
export function safetyNetStatement(
  ca: TestCA,
  options: {
    nonce?: (nonce: string) => string;
    ctsProfileMatch?: boolean;
    timestampMs?: number;
    x5c?: string[];
    /** A signer issued before (RSA key generation is slow), instead of a fresh one. */
    batch?: IssuedBatch;
  } = {},
) {
  return async ({ authData, clientDataHash }: SignedParts) => {
    const batch = options.batch ?? (await safetyNetSigner(ca));
    const nonce = isoBase64URL.fromBuffer(await sha256(concat(authData, clientDataHash)), "base64");
    const payload = {
      nonce: options.nonce?.(nonce) ?? nonce,
      timestampMs: options.timestampMs ?? Date.now(),
      apkPackageName: "com.google.android.gms",
      ctsProfileMatch: options.ctsProfileMatch ?? true,
      basicIntegrity: true,
    };
    const x5c =
      options.x5c ?? [batch.certificate, ...batch.intermediates.map((i) => i.certificate)].map(base64Certificate);
    const jws = await new CompactSign(utf8(JSON.stringify(payload)))
      .setProtectedHeader({ alg: "RS256", x5c })
      .sign(batch.privateKey);
    return { ver: "23.0.0", response: utf8(jws) };
  };
}
