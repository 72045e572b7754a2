import { X509Certificate } from "@peculiar/x509";
import { SettingsService } from "@simplewebauthn/server";
import {
  convertCertBufferToPEM,
  cose,
  decodeAttestationObject,
  decodeCredentialPublicKey,
  getCertificateInfo,
  isoBase64URL,
  isoUint8Array,
  validateCertificatePath,
} from "@simplewebauthn/server/helpers";
import type { Bytes } from "../crypto/encoding";
import type { MetadataEntry } from "../db/metadata-repository";
import { aaguidKey, credentialAlgorithms, getInfoAlgorithms, keyIdentifierKey } from "../metadata/metadata-statement";
import type { CeremonyPorts } from "./ports";

/** A status report with one of these means the model must not be trusted (any report, not just the latest). */
const COMPROMISED = new Set([
  "USER_VERIFICATION_BYPASS",
  "ATTESTATION_KEY_COMPROMISE",
  "USER_KEY_REMOTE_COMPROMISE",
  "USER_KEY_PHYSICAL_COMPROMISE",
  "REVOKED",
]);

/** Attestation types whose proof is a certificate chain. */
const CHAINED = new Set(["basic_full", "attca", "anonca"]);

/**
 * SimpleWebAuthn checks android-key, apple and android-safetynet chains against roots it ships
 * (Google, Apple, GlobalSign), held globally in its SettingsService, and ignores any other
 * anchor: metadata could never decide for those formats. So `takeOverVendorRoots` takes their
 * roots out of the library (no I/O) and this module applies them instead: the vendor's roots
 * under ATTESTATION_TRUST = "none", the metadata statement's under "mds". The library's own
 * checks of those attestations (signatures, nonce, keys, extensions, the android-key chain's
 * internal links) all still run. This relies on every registration calling `takeOverVendorRoots`
 * before `verifyRegistrationResponse` and passing through `attestationTrustRefusal` after it
 * (registration-verification.ts).
 */
const VENDOR_FORMATS = ["android-key", "apple", "android-safetynet"] as const;
type VendorFormat = (typeof VENDOR_FORMATS)[number];

/**
 * The vendor roots once taken from the library. Module state on purpose: the library's
 * SettingsService is itself one per isolate, so the roots can be taken from it only once.
 */
let vendorRoots: ReadonlyMap<string, Bytes[]> | undefined;

/**
 * Moves the library's android-key, apple and android-safetynet roots into this module (above),
 * leaving the library none for those formats. Idempotent: the first call per isolate moves them,
 * later calls return what was moved. An explicit call rather than an import side effect, so that
 * importing this module changes nothing and the one place that depends on it says so.
 */
export function takeOverVendorRoots(): ReadonlyMap<string, Bytes[]> {
  if (!vendorRoots) {
    vendorRoots = new Map(
      VENDOR_FORMATS.map((fmt) => [fmt, SettingsService.getRootCertificates({ identifier: fmt }).map(derOfPEM)]),
    );
    for (const fmt of VENDOR_FORMATS) SettingsService.setRootCertificates({ identifier: fmt, certificates: [] });
  }
  return vendorRoots;
}

export type VerifiedAttestation = {
  fmt: string;
  aaguid: string;
  attestationObject: Uint8Array;
  credential: { publicKey: Uint8Array };
};

/**
 * The attestation trust policy (ATTESTATION_TRUST, AAGUID_ALLOWLIST, AAGUID_DENYLIST), applied
 * after the attestation itself verified. Returns why the registration is refused, or null.
 *
 * - Deny list: the claimed AAGUID, attested or not, is refused.
 * - "none": android-key, apple and android-safetynet chains must lead to their vendor's roots
 *   (what SimpleWebAuthn would check); nothing else is required.
 * - "mds": an attestation with a certificate chain needs metadata for its AAGUID (U2F: its
 *   attestation key identifier): an entry that declares a chained attestation type and the
 *   credential's algorithm, and to whose root certificates the chain leads, each certificate
 *   issued by the next. Self attestation needs an entry declaring "basic_surrogate" and the
 *   algorithm. Any entry for the key with a compromised status refuses it. `none` proves
 *   nothing and claims nothing: it is accepted, as unattested.
 * - Allow list (only with "mds", see config): only the listed AAGUIDs, and only when the chain
 *   proved them — a `none` or self attestation never matches, since anyone can claim an AAGUID.
 *
 * A key can have several entries (sources loaded side by side, or a BLOB listing a model
 * twice): they are weighed in a fixed order (source name, then position), the attestation is
 * trusted if one of them vouches for it, and the reason given is the first entry's.
 */
export async function attestationTrustRefusal(
  attestation: VerifiedAttestation,
  ports: Pick<CeremonyPorts, "config" | "metadata">,
): Promise<string | null> {
  const { policy, aaguidAllowlist, aaguidDenylist } = ports.config.attestationTrust;
  const aaguid = attestation.aaguid.toLowerCase();
  if (aaguidDenylist.includes(aaguid)) return "aaguid_denied";
  const { chain, alg: statementAlg } = attestationStatement(attestation);
  if (policy === "none") return vendorRootRefusal(attestation.fmt, chain);
  const unattested = () => (aaguidAllowlist.length > 0 ? "aaguid_not_attested" : null);
  const credentialAlg = Number(
    decodeCredentialPublicKey(new Uint8Array(attestation.credential.publicKey)).get(cose.COSEKEYS.alg),
  );

  if (chain.length === 0) {
    if (attestation.fmt === "none") return unattested();
    // Self attestation: the credential key signed its own attestation (packed without x5c);
    // that `alg` is the key's was checked under every policy (attestation-statement.ts).
    const refusal = await weigh(await ports.metadata.findEntries(aaguidKey(aaguid)), async (entry) => {
      if (!attestationTypes(entry).includes("basic_surrogate")) return "self_attestation_not_in_metadata";
      return algorithmRefusal(entry, credentialAlg, statementAlg);
    });
    return refusal ?? unattested();
  }

  const misordered = await chainOrderRefusal(chain);
  if (misordered) return misordered;
  const [leaf] = chain as [Bytes, ...Bytes[]];
  const key = attestation.fmt === "fido-u2f" ? keyIdentifierKey(await keyIdentifierOf(leaf)) : aaguidKey(aaguid);
  const refusal = await weigh(await ports.metadata.findEntries(key), async (entry) => {
    if (!attestationTypes(entry).some((type) => CHAINED.has(type))) return "full_attestation_not_in_metadata";
    return algorithmRefusal(entry, credentialAlg, statementAlg) ?? (await chainRefusal(chain, attestation.fmt, entry));
  });
  if (refusal) return refusal;
  if (aaguidAllowlist.length > 0 && !aaguidAllowlist.includes(aaguid)) return "aaguid_not_allowed";
  return null;
}

async function weigh(
  entries: MetadataEntry[],
  check: (entry: MetadataEntry) => Promise<string | null>,
): Promise<string | null> {
  if (entries.length === 0) return "no_metadata";
  for (const entry of entries) {
    const status = entry.statusReports.find((report) => COMPROMISED.has(report.status))?.status;
    if (status) return `authenticator_status:${status}`;
  }
  let first: string | null = null;
  for (const entry of entries) {
    const refusal = await check(entry);
    if (refusal === null) return null;
    first ??= refusal;
  }
  return first;
}

/** The attestation certificate chain, leaf first (empty for none and self attestation), and `alg`. */
function attestationStatement(attestation: VerifiedAttestation): { chain: Bytes[]; alg: number | undefined } {
  const statement = decodeAttestationObject(new Uint8Array(attestation.attestationObject)).get("attStmt");
  const alg = statement.get("alg");
  if (attestation.fmt === "android-safetynet") {
    // The chain sits in the header of the SafetyNet JWS, as base64 DER.
    const jws = new TextDecoder().decode(statement.get("response"));
    const header = JSON.parse(isoBase64URL.toUTF8String(jws.split(".")[0] ?? "")) as { x5c?: string[] };
    return { chain: (header.x5c ?? []).map((der) => isoBase64URL.toBuffer(der, "base64")), alg: undefined };
  }
  return {
    chain: (statement.get("x5c") ?? []).map((der) => new Uint8Array(der)),
    alg: typeof alg === "number" ? alg : undefined,
  };
}

function attestationTypes(entry: MetadataEntry): string[] {
  const types = entry.statement.attestationTypes;
  return Array.isArray(types) ? types.map(String) : [];
}

/**
 * The credential's algorithm must be one the statement lists (FIDO conformance Resp-3 F-16),
 * and the attestation statement's `alg` one of its authenticatorGetInfo algorithms when it
 * lists them (Resp-5 F-8), as SimpleWebAuthn's metadata check does.
 */
function algorithmRefusal(entry: MetadataEntry, credentialAlg: number, statementAlg: number | undefined) {
  if (!credentialAlgorithms(entry.statement).includes(credentialAlg))
    return `algorithm_not_in_metadata:${credentialAlg}`;
  const getInfo = getInfoAlgorithms(entry.statement);
  if (getInfo && statementAlg !== undefined && !getInfo.includes(statementAlg)) {
    return `attestation_algorithm_not_in_metadata:${statementAlg}`;
  }
  return null;
}

/**
 * Each certificate must be issued by the one after it — subject/issuer names and signature —
 * because SimpleWebAuthn's path building finds a path whatever the order (Resp-5 F-11).
 */
async function chainOrderRefusal(chain: Bytes[]): Promise<string | null> {
  let certificates: X509Certificate[];
  try {
    certificates = chain.map((der) => new X509Certificate(der));
  } catch {
    return "chain_malformed";
  }
  for (let i = 0; i + 1 < certificates.length; i++) {
    const [certificate, issuer] = [certificates[i], certificates[i + 1]] as [X509Certificate, X509Certificate];
    if (certificate.issuer !== issuer.subject) return "chain_misordered";
    const signed = await certificate.verify({ publicKey: issuer.publicKey, signatureOnly: true }).catch(() => false);
    if (!signed) return "chain_misordered";
  }
  return null;
}

async function chainRefusal(chain: Bytes[], fmt: string, entry: MetadataEntry): Promise<string | null> {
  const roots = Array.isArray(entry.statement.attestationRootCertificates)
    ? entry.statement.attestationRootCertificates.map((root) =>
        isoBase64URL.toBuffer(String(root).replace(/\s+/g, ""), "base64"),
      )
    : [];
  if (roots.length === 0) return "chain_not_to_metadata_root";
  const isRoot = (certificate: Bytes) => roots.some((root) => isoUint8Array.areEqual(root, certificate));
  let path = chain;
  // Android key attestation chains end with their root by design; other formats must not
  // carry it (Resp-5 F-10). A single batch certificate that is itself the anchor needs no path.
  if (fmt === "android-key" && path.length > 1 && isRoot(path.at(-1) as Bytes)) path = path.slice(0, -1);
  if (path.length === 1 && isRoot(path[0] as Bytes)) return null;
  if (path.some(isRoot)) return "chain_includes_root";
  return (await chainsTo(path, roots)) ? null : "chain_not_to_metadata_root";
}

/** Under "none", what SimpleWebAuthn would have required of the vendor formats. */
async function vendorRootRefusal(fmt: string, chain: Bytes[]): Promise<string | null> {
  const roots = takeOverVendorRoots().get(fmt as VendorFormat);
  if (!roots || roots.length === 0) return null;
  const last = chain.at(-1);
  // The library already checked that the android-key chain links up to its last certificate.
  if (fmt === "android-key") {
    return last && roots.some((root) => isoUint8Array.areEqual(root, last)) ? null : "chain_not_to_vendor_root";
  }
  return (await chainsTo(chain, roots)) ? null : "chain_not_to_vendor_root";
}

async function chainsTo(chain: Bytes[], roots: Bytes[]): Promise<boolean> {
  if (chain.length === 0) return false;
  try {
    // SimpleWebAuthn skips path validation when given no anchors; callers never pass none.
    return await validateCertificatePath(chain.map(pemOf), roots.map(pemOf));
  } catch {
    return false;
  }
}

/** SHA-1 of the leaf's subjectPublicKey, hex: how MDS names U2F authenticators (RFC 5280 key id). */
async function keyIdentifierOf(leaf: Bytes): Promise<string> {
  const publicKey = getCertificateInfo(leaf).parsedCertificate.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", publicKey));
  return [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function pemOf(der: Bytes): string {
  return convertCertBufferToPEM(der);
}

function derOfPEM(pem: string): Bytes {
  return isoBase64URL.toBuffer(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ""), "base64");
}
