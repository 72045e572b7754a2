import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { encode } from "cborg";

export type KeyAlgorithm = "ES256" | "EdDSA" | "RS256";

export const COSE_ALG: Record<KeyAlgorithm, number> = {
  ES256: -7,
  EdDSA: -8,
  RS256: -257,
};

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
  ES256: {
    generate: { name: "ECDSA", namedCurve: "P-256" },
    sign: { name: "ECDSA", hash: "SHA-256" },
  },
  EdDSA: { generate: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  RS256: {
    generate: {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    sign: { name: "RSASSA-PKCS1-v1_5" },
  },
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
      // kty EC2, crv P-256
      return cbor(
        new Map<number, number | Uint8Array>([
          [1, 2],
          [3, alg],
          [-1, 1],
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
  return algorithm === "ES256" ? ecdsaRawToDER(raw) : raw;
}

/** WebCrypto yields ECDSA signatures as r|s; WebAuthn wants an ASN.1 DER SEQUENCE of two INTEGERs. */
export function ecdsaRawToDER(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  const half = raw.length / 2;
  const r = derInteger(raw.subarray(0, half));
  const s = derInteger(raw.subarray(half));
  // P-256 integers are at most 33 bytes, so every length fits the short form.
  return concat(new Uint8Array([0x30, r.length + s.length]), r, s);
}

function derInteger(value: Uint8Array): Uint8Array {
  // DER integers are minimal: drop leading zero bytes...
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  let digits = value.subarray(start);
  // ...but they are signed, so a set high bit needs a 0x00 pad to stay positive.
  if ((digits[0] ?? 0) & 0x80) digits = concat(new Uint8Array([0]), digits);
  return concat(new Uint8Array([0x02, digits.length]), digits);
}
