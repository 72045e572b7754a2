import { id_ce_keyDescription, KeyDescription } from "@peculiar/asn1-android";
import { AsnParser } from "@peculiar/asn1-schema";
import { X509Certificate } from "@peculiar/x509";
import { cose, decodeCredentialPublicKey } from "@simplewebauthn/server/helpers";
import { credentialPublicKeyRefusal } from "./credential-public-key";
import { decodeStrictCBOR, decodeWholeCBOR, MalformedCBOR } from "./strict-cbor";
import { parseCertifyInfo, parsePublicArea, TPMStructureError } from "./tpm-structures";

/** The members an attestation statement may carry, and the CBOR type §8 gives each. */
type Member = "int" | "bytes" | "text" | "certificates";
type Shape = { required: Record<string, Member>; optional?: Record<string, Member> };

/** WebAuthn §8, format by format (ECDAA, removed from the specification, is not accepted). */
const STATEMENT_SHAPES: Record<string, Shape> = {
  none: { required: {} },
  packed: { required: { alg: "int", sig: "bytes" }, optional: { x5c: "certificates" } },
  tpm: {
    required: { ver: "text", alg: "int", x5c: "certificates", sig: "bytes", certInfo: "bytes", pubArea: "bytes" },
  },
  "android-key": { required: { alg: "int", sig: "bytes", x5c: "certificates" } },
  "android-safetynet": { required: { ver: "text", response: "bytes" } },
  "fido-u2f": { required: { sig: "bytes", x5c: "certificates" } },
  // iOS 14.0 to 14.2 also wrote `alg` (WebKit bug 217720); it is tolerated, never used.
  apple: { required: { x5c: "certificates" }, optional: { alg: "int" } },
};

export type AttestationObject = { fmt: string; attStmt: Map<string, unknown>; authData: Uint8Array };

/**
 * The attestation object read strictly (WebAuthn §6.5.4): one CBOR map of exactly `fmt` (text),
 * `attStmt` (a map) and `authData` (bytes), nothing after it, and the statement shaped as §8
 * gives it for its format: every required member present, each of its type, no other member.
 * Runs before SimpleWebAuthn sees the object, which only tests members for truthiness and
 * decodes just the first CBOR item. Returns why it is malformed, or null.
 */
export function attestationObjectRefusal(encoded: Uint8Array): string | null {
  try {
    readAttestationObject(encoded);
    return null;
  } catch (error) {
    if (error instanceof MalformedCBOR) return error.why === "trailing bytes" ? "trailing_bytes" : "cbor";
    if (error instanceof MalformedStatement) return error.reason;
    throw error;
  }
}

function readAttestationObject(encoded: Uint8Array): AttestationObject {
  const value = decodeWholeCBOR(encoded);
  if (!(value instanceof Map)) throw new MalformedStatement("not_a_map");
  const members = [...value.keys()];
  if (members.length !== 3 || !["fmt", "attStmt", "authData"].every((name) => value.has(name))) {
    throw new MalformedStatement("members");
  }
  const fmt = value.get("fmt");
  const attStmt = value.get("attStmt");
  const authData = value.get("authData");
  if (typeof fmt !== "string") throw new MalformedStatement("fmt_type");
  if (!(authData instanceof Uint8Array)) throw new MalformedStatement("authData_type");
  if (!(attStmt instanceof Map)) throw new MalformedStatement("attStmt_not_a_map");
  checkAuthenticatorData(authData);
  const shape = STATEMENT_SHAPES[fmt];
  // An unknown format is SimpleWebAuthn's to refuse, by name; its statement has no shape to check.
  if (shape) checkShape(fmt, attStmt, shape);
  return { fmt, attStmt, authData };
}

const FLAG_AT = 0x40;
const FLAG_ED = 0x80;

/**
 * Authenticator data (WebAuthn §6.1) of a registration: rpIdHash, flags, counter, the attested
 * credential data (which a registration must carry), then the extensions map exactly when ED
 * says so, and nothing after. The credential key's and the extensions' lengths are those of
 * their strict CBOR encodings: the library measures the key by re-encoding what it decoded.
 */
function checkAuthenticatorData(authData: Uint8Array) {
  const truncated = () => new MalformedStatement("authData_truncated");
  if (authData.length < 37 + 18) throw truncated();
  const flags = authData[32] as number;
  if ((flags & FLAG_AT) === 0) throw new MalformedStatement("authData_no_attested_credential");
  let offset = 55 + ((authData[53] as number) << 8) + (authData[54] as number);
  if (offset >= authData.length) throw truncated();
  const item = (what: string) => {
    try {
      return decodeStrictCBOR(authData.subarray(offset));
    } catch (error) {
      if (error instanceof MalformedCBOR) throw new MalformedStatement(`authData_${what}_cbor`);
      throw error;
    }
  };
  offset += item("credential_key").length;
  if (flags & FLAG_ED) {
    if (offset >= authData.length) throw new MalformedStatement("authData_extensions_missing");
    const extensions = item("extensions");
    const isMap = extensions.value instanceof Map && [...extensions.value.keys()].every((id) => typeof id === "string");
    if (!isMap) throw new MalformedStatement("authData_extensions_not_a_map");
    offset += extensions.length;
  }
  if (offset !== authData.length) throw new MalformedStatement("authData_trailing_bytes");
}

function checkShape(fmt: string, statement: Map<unknown, unknown>, shape: Shape) {
  const allowed = { ...shape.optional, ...shape.required };
  for (const name of statement.keys()) {
    if (typeof name !== "string" || !Object.hasOwn(allowed, name)) throw new MalformedStatement(`${fmt}_member`);
  }
  for (const [name, type] of Object.entries(allowed)) {
    const value = statement.get(name);
    if (value === undefined) {
      if (Object.hasOwn(shape.required, name)) throw new MalformedStatement(`${fmt}_${name}_missing`);
      continue;
    }
    if (!isOfType(value, type)) throw new MalformedStatement(`${fmt}_${name}_type`);
  }
  // A SafetyNet response is a compact JWS: three base64url parts (the library decodes leniently).
  const response = statement.get("response");
  if (response instanceof Uint8Array && !COMPACT_JWS.test(new TextDecoder().decode(response))) {
    throw new MalformedStatement(`${fmt}_response_not_jws`);
  }
  // An ECDSA signature is one DER SEQUENCE (§6.5.5); the library's ASN.1 parser ignores what follows it.
  const sig = statement.get("sig");
  const ecdsa = fmt === "fido-u2f" || ECDSA_ALGORITHMS.has(statement.get("alg") as number);
  if (sig instanceof Uint8Array && ecdsa && !isOneDERSequence(sig)) throw new MalformedStatement(`${fmt}_sig_der`);
}

const ECDSA_ALGORITHMS = new Set([-7, -35, -36]);
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Exactly one DER SEQUENCE (tag 0x30, definite length): an X.509 certificate, an ECDSA signature. */
function isOneDERSequence(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x30 || bytes.length < 2) return false;
  const first = bytes[1] as number;
  if (first < 0x80) return bytes.length === 2 + first;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || bytes.length < 2 + octets) return false;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + (bytes[2 + i] as number);
  return bytes.length === 2 + octets + length;
}

function isOfType(value: unknown, type: Member): boolean {
  switch (type) {
    case "int":
      return typeof value === "number" && Number.isSafeInteger(value);
    case "bytes":
      return value instanceof Uint8Array && value.length > 0;
    case "text":
      return typeof value === "string";
    case "certificates":
      // [ attestnCert: bytes, * (caCert: bytes) ]: at least the leaf, each one DER certificate.
      return (
        Array.isArray(value) &&
        value.length > 0 &&
        value.every((certificate) => certificate instanceof Uint8Array && isOneDERSequence(certificate))
      );
  }
}

class MalformedStatement extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "MalformedStatement";
  }
}

/** The library's verified result, as far as these rules read it. */
export type VerifiedStatement = { fmt: string; attestationObject: Uint8Array; credential: { publicKey: Uint8Array } };

/**
 * The rules of WebAuthn §8 that SimpleWebAuthn skips, applied under every trust policy once
 * the library verified what it checks, and the credential key's own checks
 * (credential-public-key.ts). Returns the rule broken, or null.
 *
 * - packed, self attestation: `alg` is the credential key's algorithm (§8.2).
 * - fido-u2f: `x5c` holds exactly one certificate, whose key, like the credential's, is P-256 (§8.6).
 * - tpm: `pubArea` and `certInfo` are whole TPMT_PUBLIC / TPMS_ATTEST structures (nothing
 *   missing, nothing after them), and the attested name is computed with pubArea's nameAlg (§8.3).
 * - android-key: the key was generated in the keystore for signing only (origin
 *   KM_ORIGIN_GENERATED, purpose KM_PURPOSE_SIGN, in either authorization list, §8.4).
 */
export async function attestationRulesRefusal(verified: VerifiedStatement): Promise<string | null> {
  const badKey = await credentialPublicKeyRefusal(new Uint8Array(verified.credential.publicKey));
  if (badKey) return `credential_key:${badKey}`;
  const { attStmt } = readAttestationObject(verified.attestationObject);
  const credentialKey = decodeCredentialPublicKey(new Uint8Array(verified.credential.publicKey));
  const x5c = attStmt.get("x5c") as Uint8Array[] | undefined;
  switch (verified.fmt) {
    case "packed":
      if (x5c === undefined && attStmt.get("alg") !== credentialKey.get(cose.COSEKEYS.alg)) {
        return "self_attestation_algorithm_mismatch";
      }
      return null;
    case "fido-u2f":
      return u2fRefusal(x5c ?? [], credentialKey);
    case "tpm":
      return tpmRefusal(attStmt);
    case "android-key":
      return androidKeyRefusal(x5c?.[0]);
    default:
      return null;
  }
}

function u2fRefusal(x5c: Uint8Array[], credentialKey: ReturnType<typeof decodeCredentialPublicKey>): string | null {
  if (x5c.length !== 1) return "u2f_certificate_count";
  const algorithm = certificateKeyAlgorithm(x5c[0] as Uint8Array);
  if (algorithm?.name !== "ECDSA" || algorithm.namedCurve !== "P-256") return "u2f_certificate_not_p256";
  // The credential key's curve is not among the COSEPublicKey typings' common labels.
  const labels = credentialKey as unknown as Map<number, unknown>;
  const isP256 =
    labels.get(cose.COSEKEYS.kty) === cose.COSEKTY.EC2 && labels.get(cose.COSEKEYS.crv) === cose.COSECRV.P256;
  return isP256 ? null : "u2f_credential_not_p256";
}

function certificateKeyAlgorithm(der: Uint8Array): { name?: string; namedCurve?: string } | undefined {
  try {
    return new X509Certificate(new Uint8Array(der)).publicKey.algorithm as { name?: string; namedCurve?: string };
  } catch {
    return undefined;
  }
}

function tpmRefusal(attStmt: Map<string, unknown>): string | null {
  try {
    const publicArea = parsePublicArea(attStmt.get("pubArea") as Uint8Array);
    const certifyInfo = parseCertifyInfo(attStmt.get("certInfo") as Uint8Array);
    if (certifyInfo.attestedNameAlg !== publicArea.nameAlg) return "tpm_name_algorithm_mismatch";
    return null;
  } catch (error) {
    if (error instanceof TPMStructureError) return `tpm_${error.reason}`;
    throw error;
  }
}

/** Keymaster's KM_ORIGIN_GENERATED and KM_PURPOSE_SIGN. */
const KM_ORIGIN_GENERATED = 0;
const KM_PURPOSE_SIGN = 2;

function androidKeyRefusal(leaf: Uint8Array | undefined): string | null {
  let description: KeyDescription;
  try {
    const certificate = new X509Certificate(new Uint8Array(leaf ?? []));
    const extension = certificate.getExtension(id_ce_keyDescription);
    if (!extension) return "android_key_description_missing";
    description = AsnParser.parse(extension.value, KeyDescription);
  } catch {
    return "android_key_description_unreadable";
  }
  const lists = [description.teeEnforced, description.softwareEnforced];
  const origins = lists.map((list) => list.origin).filter((origin) => origin !== undefined);
  if (origins.length === 0 || origins.some((origin) => Number(origin) !== KM_ORIGIN_GENERATED)) {
    return "android_key_origin_not_generated";
  }
  const purposes = new Set(lists.flatMap((list) => [...(list.purpose ?? [])].map(Number)));
  if (purposes.size !== 1 || !purposes.has(KM_PURPOSE_SIGN)) return "android_key_purpose_not_sign";
  return null;
}
