import { toBase64URL } from "../crypto/encoding";
import { decodeWholeCBOR, MalformedCBOR } from "./strict-cbor";

/**
 * What a credential public key (a COSE_Key, RFC 9052/9053/8230) must be for the algorithm it
 * claims. SimpleWebAuthn only reads the labels it needs, and never imports the key of a `none`
 * attestation at all, so an RSA-512 key labelled RS256 or a P-384 key labelled ES256 would be
 * stored and fail (or worse, verify weakly) at every sign-in.
 */
const EC2_CURVES: Record<number, { crv: number; namedCurve: string; coordinateBytes: number }> = {
  [-7]: { crv: 1, namedCurve: "P-256", coordinateBytes: 32 },
  [-35]: { crv: 2, namedCurve: "P-384", coordinateBytes: 48 },
  [-36]: { crv: 3, namedCurve: "P-521", coordinateBytes: 66 },
};
const RSA_ALGORITHMS = new Set([-257, -258, -259, -37, -38, -39, -65535]);
const EDDSA = -8;

/** Below 2048 bits RSA is breakable (NIST SP 800-131A); above 8192 no authenticator goes. */
export const RSA_MODULUS_BITS = { min: 2048, max: 8192 } as const;
/** A COSE key of an 8192-bit modulus encodes in about 1040 bytes. */
const MAX_ENCODED_BYTES = 1100;

const KTY = { OKP: 1, EC2: 2, RSA: 3 } as const;
/** kty, kid, alg, key_ops: the common parameters a public key may carry (RFC 9052 §7.1). */
const COMMON_LABELS = [1, 2, 3, 4];
/** Public parameters per key type; any other label (a private one like d) is refused. */
const PUBLIC_LABELS: Record<number, number[]> = { [KTY.OKP]: [-1, -2], [KTY.EC2]: [-1, -2, -3], [KTY.RSA]: [-1, -2] };

/**
 * Returns why the COSE-encoded credential public key is not an acceptable key for its own
 * `alg`, or null. Checks the encoding (one CBOR map, integer labels, nothing private), that
 * the key type and curve are the algorithm's, the sizes, and then imports it with WebCrypto,
 * which refuses EC points that are not on their curve.
 */
export async function credentialPublicKeyRefusal(encoded: Uint8Array): Promise<string | null> {
  if (encoded.length > MAX_ENCODED_BYTES) return "too_large";
  let key: unknown;
  try {
    key = decodeWholeCBOR(encoded);
  } catch (error) {
    if (error instanceof MalformedCBOR) return "cbor";
    throw error;
  }
  if (!(key instanceof Map)) return "not_a_map";
  const kty = key.get(1);
  const alg = key.get(3);
  if (typeof kty !== "number" || typeof alg !== "number") return "kty_or_alg_missing";
  const allowed = new Set([...COMMON_LABELS, ...(PUBLIC_LABELS[kty] ?? [])]);
  for (const label of key.keys()) {
    if (typeof label !== "number" || !allowed.has(label)) return `label_${String(label).slice(0, 8)}`;
  }
  if (key.has(2) && !(key.get(2) instanceof Uint8Array && (key.get(2) as Uint8Array).length <= 64)) return "kid";

  const curve = EC2_CURVES[alg];
  if (curve) {
    if (kty !== KTY.EC2) return "kty_not_ec2";
    if (key.get(-1) !== curve.crv) return "curve_not_algorithm";
    const [x, y] = [key.get(-2), key.get(-3)];
    if (!isBytes(x, curve.coordinateBytes) || !isBytes(y, curve.coordinateBytes)) return "coordinate_size";
    const jwk = { kty: "EC", crv: curve.namedCurve, x: base64url(x), y: base64url(y) };
    return (await imports(jwk, { name: "ECDSA", namedCurve: curve.namedCurve })) ? null : "point_not_on_curve";
  }
  if (alg === EDDSA) {
    if (kty !== KTY.OKP) return "kty_not_okp";
    // Ed25519 only: the one EdDSA curve WebAuthn clients and SimpleWebAuthn use.
    if (key.get(-1) !== 6) return "curve_not_ed25519";
    const x = key.get(-2);
    if (!isBytes(x, 32)) return "coordinate_size";
    return (await imports({ kty: "OKP", crv: "Ed25519", x: base64url(x) }, { name: "Ed25519" })) ? null : "key_invalid";
  }
  if (RSA_ALGORITHMS.has(alg)) {
    if (kty !== KTY.RSA) return "kty_not_rsa";
    const [n, e] = [key.get(-1), key.get(-2)];
    if (!(n instanceof Uint8Array) || !(e instanceof Uint8Array)) return "rsa_parameters";
    const bits = bitLength(n);
    if (bits < RSA_MODULUS_BITS.min) return "rsa_modulus_too_small";
    if (bits > RSA_MODULUS_BITS.max) return "rsa_modulus_too_large";
    // An odd exponent of at most 32 bits, at least 3 (RFC 8017 §3.1; e = 1 is no encryption at all).
    const exponentBits = bitLength(e);
    if (exponentBits < 2 || exponentBits > 32 || ((e.at(-1) ?? 0) & 1) === 0) return "rsa_exponent";
    const jwk = { kty: "RSA", n: base64url(n), e: base64url(e) };
    return (await imports(jwk, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" })) ? null : "key_invalid";
  }
  return "algorithm_unknown";
}

const base64url = (bytes: Uint8Array) => toBase64URL(new Uint8Array(bytes));

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

function bitLength(bytes: Uint8Array): number {
  const first = bytes.findIndex((byte) => byte !== 0);
  if (first === -1) return 0;
  return (bytes.length - first - 1) * 8 + (32 - Math.clz32(bytes[first] as number));
}

async function imports(jwk: JsonWebKey, algorithm: Parameters<typeof crypto.subtle.importKey>[2]) {
  try {
    await crypto.subtle.importKey("jwk", jwk, algorithm, false, ["verify"]);
    return true;
  } catch {
    return false;
  }
}
