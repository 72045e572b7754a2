import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { encode } from "cborg";

export type KeyAlgorithm =
  | "ES256"
  | "EdDSA"
  | "RS256"
  | "ES384"
  | "ES512"
  | "PS256"
  | "PS384"
  | "PS512"
  | "RS384"
  | "RS512"
  | "RS1";

export const COSE_ALG: Record<KeyAlgorithm, number> = {
  ES256: -7,
  EdDSA: -8,
  RS256: -257,
  ES384: -35,
  ES512: -36,
  PS256: -37,
  PS384: -38,
  PS512: -39,
  RS384: -258,
  RS512: -259,
  RS1: -65535,
};

const rsa = (name: "RSASSA-PKCS1-v1_5" | "RSA-PSS", hash: string, saltLength?: number) => ({
  generate: { name, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash },
  // RSA-PSS salt: as long as the hash, the convention verifiers (SimpleWebAuthn) expect.
  sign: saltLength === undefined ? { name } : { name, saltLength },
});
const ecdsa = (namedCurve: string, hash: string) => ({
  generate: { name: "ECDSA", namedCurve },
  sign: { name: "ECDSA", hash },
});

/** COSE curve ids of the EC2 keys (RFC 9053): P-256, P-384, P-521. */
const EC2_CURVE: Partial<Record<KeyAlgorithm, number>> = { ES256: 1, ES384: 2, ES512: 3 };

// cborg writes plain, minimal CBOR (no tags on Maps or byte strings), which is what
// authenticators emit: SimpleWebAuthn re-encodes the COSE key to measure its length.
// A Map keeps COSE's integer keys as integers.
export function cbor(value: unknown): Uint8Array<ArrayBuffer> {
  return new Uint8Array(encode(value));
}

export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// Left to inference rather than typed with DOM names like EcKeyGenParams, so the
// file compiles against both lib.dom and the Workers runtime types.
const PARAMS = {
  ES256: ecdsa("P-256", "SHA-256"),
  ES384: ecdsa("P-384", "SHA-384"),
  ES512: ecdsa("P-521", "SHA-512"),
  EdDSA: { generate: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  RS256: rsa("RSASSA-PKCS1-v1_5", "SHA-256"),
  RS384: rsa("RSASSA-PKCS1-v1_5", "SHA-384"),
  RS512: rsa("RSASSA-PKCS1-v1_5", "SHA-512"),
  RS1: rsa("RSASSA-PKCS1-v1_5", "SHA-1"),
  PS256: rsa("RSA-PSS", "SHA-256", 32),
  PS384: rsa("RSA-PSS", "SHA-384", 48),
  PS512: rsa("RSA-PSS", "SHA-512", 64),
};

export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<CryptoKeyPair> {
  const keys = await crypto.subtle.generateKey(PARAMS[algorithm].generate, false, ["sign", "verify"]);
  // Typings allow a lone CryptoKey (symmetric algorithms); ours are asymmetric.
  if (!("privateKey" in keys)) throw new Error("expected a key pair");
  return keys;
}

/** The credential public key as a COSE_Key, CBOR-encoded with integer labels. */
export async function encodeCOSEPublicKey(
  algorithm: KeyAlgorithm,
  publicKey: CryptoKey,
): Promise<Uint8Array<ArrayBuffer>> {
  const jwk = await crypto.subtle.exportKey("jwk", publicKey);
  if (jwk instanceof ArrayBuffer) throw new Error("expected a JWK");
  const bytes = (value: string | undefined): Uint8Array => {
    if (!value) throw new Error("JWK is missing a key component");
    return isoBase64URL.toBuffer(value);
  };
  const alg = COSE_ALG[algorithm];
  switch (algorithm) {
    case "ES256":
    case "ES384":
    case "ES512":
      // kty EC2, crv P-256 / P-384 / P-521
      return cbor(
        new Map<number, number | Uint8Array>([
          [1, 2],
          [3, alg],
          [-1, EC2_CURVE[algorithm] ?? 1],
          [-2, bytes(jwk.x)],
          [-3, bytes(jwk.y)],
        ]),
      );
    case "EdDSA":
      // kty OKP, crv Ed25519
      return cbor(
        new Map<number, number | Uint8Array>([
          [1, 1],
          [3, alg],
          [-1, 6],
          [-2, bytes(jwk.x)],
        ]),
      );
    case "RS256":
    case "RS384":
    case "RS512":
    case "RS1":
    case "PS256":
    case "PS384":
    case "PS512":
      // kty RSA
      return cbor(
        new Map<number, number | Uint8Array>([
          [1, 3],
          [3, alg],
          [-1, bytes(jwk.n)],
          [-2, bytes(jwk.e)],
        ]),
      );
  }
}

/** Signs `data` the way WebAuthn expects the signature for `algorithm` to be encoded. */
export async function sign(
  algorithm: KeyAlgorithm,
  privateKey: CryptoKey,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const raw = new Uint8Array(await crypto.subtle.sign(PARAMS[algorithm].sign, privateKey, data));
  return algorithm in EC2_CURVE ? ecdsaRawToDER(raw) : raw;
}

/** WebCrypto yields ECDSA signatures as r|s; WebAuthn wants an ASN.1 DER SEQUENCE of two INTEGERs. */
export function ecdsaRawToDER(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  const half = raw.length / 2;
  const r = derInteger(raw.subarray(0, half));
  const s = derInteger(raw.subarray(half));
  return concat(new Uint8Array([0x30]), derLength(r.length + s.length), r, s);
}

/** P-521 signatures outgrow the short form (up to 127 bytes): longer lengths take 0x81 nn. */
function derLength(length: number): Uint8Array {
  return length < 0x80 ? new Uint8Array([length]) : new Uint8Array([0x81, length]);
}

function derInteger(value: Uint8Array): Uint8Array {
  // DER integers are minimal: drop leading zero bytes...
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  let digits = value.subarray(start);
  // ...but they are signed, so a set high bit needs a 0x00 pad to stay positive.
  if ((digits[0] ?? 0) & 0x80) digits = concat(new Uint8Array([0]), digits);
  return concat(new Uint8Array([0x02]), derLength(digits.length), digits);
}
