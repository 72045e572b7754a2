import {
  convertCertBufferToPEM,
  decodeAttestationObject,
  getCertificateInfo,
  isoBase64URL,
  validateCertificatePath,
} from "@simplewebauthn/server/helpers";
import type { Bytes } from "../crypto/encoding";
import type { MetadataEntryRow } from "../db/schema";
import { aaguidKey, keyIdentifierKey } from "../metadata/metadata-blob";
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

export type VerifiedAttestation = { fmt: string; aaguid: string; attestationObject: Uint8Array };

/**
 * The attestation trust policy (ATTESTATION_TRUST, AAGUID_ALLOWLIST, AAGUID_DENYLIST), applied
 * after the attestation itself verified. Returns why the registration is refused, or null.
 *
 * - Deny list: the claimed AAGUID, attested or not, is refused.
 * - "mds": an attestation with a certificate chain must chain to the root certificates of the
 *   metadata entry of its AAGUID (U2F: of its attestation key identifier), whose statement
 *   declares a chained attestation type and has no compromised status. Self attestation needs
 *   an entry declaring it ("basic_surrogate"). `none` proves nothing and claims nothing: it is
 *   accepted, as unattested.
 * - Allow list (only with "mds", see config): only the listed AAGUIDs, and only when the chain
 *   proved them — a `none` or self attestation never matches, since anyone can claim an AAGUID.
 */
export async function attestationTrustRefusal(
  attestation: VerifiedAttestation,
  ports: Pick<CeremonyPorts, "config" | "metadata">,
): Promise<string | null> {
  const { policy, aaguidAllowlist, aaguidDenylist } = ports.config.attestationTrust;
  const aaguid = attestation.aaguid.toLowerCase();
  if (aaguidDenylist.includes(aaguid)) return "aaguid_denied";
  if (policy === "none") return null;
  const unattested = () => (aaguidAllowlist.length > 0 ? "aaguid_not_attested" : null);

  const chain = attestationChain(attestation);
  if (chain.length === 0) {
    if (attestation.fmt === "none") return unattested();
    const entry = await ports.metadata.findEntry(aaguidKey(aaguid));
    if (!entry) return "no_metadata";
    const status = compromisedStatus(entry);
    if (status) return `authenticator_status:${status}`;
    if (!attestationTypes(entry).includes("basic_surrogate")) return "self_attestation_not_in_metadata";
    return unattested();
  }

  const [leaf] = chain as [Bytes, ...Bytes[]];
  const key = attestation.fmt === "fido-u2f" ? keyIdentifierKey(await keyIdentifierOf(leaf)) : aaguidKey(aaguid);
  const entry = await ports.metadata.findEntry(key);
  if (!entry) return "no_metadata";
  const status = compromisedStatus(entry);
  if (status) return `authenticator_status:${status}`;
  if (!attestationTypes(entry).some((type) => CHAINED.has(type))) return "full_attestation_not_in_metadata";
  if (!(await chainsToMetadataRoots(chain, entry))) return "chain_not_to_metadata_root";
  if (aaguidAllowlist.length > 0 && !aaguidAllowlist.includes(aaguid)) return "aaguid_not_allowed";
  return null;
}

/** The attestation certificate chain, leaf first; empty for none and self attestation. */
function attestationChain(attestation: VerifiedAttestation): Bytes[] {
  const statement = decodeAttestationObject(new Uint8Array(attestation.attestationObject)).get("attStmt");
  if (attestation.fmt === "android-safetynet") {
    // The chain sits in the header of the SafetyNet JWS, as base64 DER.
    const jws = new TextDecoder().decode(statement.get("response"));
    const header = JSON.parse(isoBase64URL.toUTF8String(jws.split(".")[0] ?? "")) as { x5c?: string[] };
    return (header.x5c ?? []).map((der) => isoBase64URL.toBuffer(der, "base64"));
  }
  return (statement.get("x5c") ?? []).map((der) => new Uint8Array(der));
}

function attestationTypes(entry: MetadataEntryRow): string[] {
  const types = entry.statement.attestationTypes;
  return Array.isArray(types) ? types.map(String) : [];
}

function compromisedStatus(entry: MetadataEntryRow): string | undefined {
  return entry.statusReports.find((report) => COMPROMISED.has(report.status))?.status;
}

/** SHA-1 of the leaf's subjectPublicKey, hex: how MDS names U2F authenticators (RFC 5280 key id). */
async function keyIdentifierOf(leaf: Bytes): Promise<string> {
  const publicKey = getCertificateInfo(leaf).parsedCertificate.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", publicKey));
  return [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function chainsToMetadataRoots(chain: Bytes[], entry: MetadataEntryRow): Promise<boolean> {
  const roots = entry.statement.attestationRootCertificates;
  if (!Array.isArray(roots) || roots.length === 0) return false;
  const rootPEMs = roots.map((root) => convertCertBufferToPEM(String(root)));
  const chainPEMs = chain.map((certificate) => convertCertBufferToPEM(certificate));
  // A batch certificate that is itself the statement's trust anchor needs no path.
  if (chainPEMs.length === 1 && rootPEMs.includes(chainPEMs[0] ?? "")) return true;
  try {
    // SimpleWebAuthn skips path validation when given no anchors; we never pass none (above).
    return await validateCertificatePath(chainPEMs, rootPEMs);
  } catch {
    return false;
  }
}
