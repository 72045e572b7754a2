import { z } from "zod";
import type { NewMetadataEntry } from "../db/metadata-repository";

/** Metadata lookup key of a FIDO2 authenticator model. */
export const aaguidKey = (aaguid: string) => `aaguid:${aaguid.toLowerCase()}`;
/** Metadata lookup key of a U2F authenticator: its attestation certificate's key identifier. */
export const keyIdentifierKey = (hex: string) => `akid:${hex.toLowerCase()}`;

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const keyIdentifier = /^[0-9a-f]{40}$/i;

/**
 * The parts of an MDS3 metadata statement the trust policy reads; everything else is kept as
 * published. A statement without them cannot be checked, so it is not used.
 */
export const metadataStatementShape = z.looseObject({
  aaguid: z.string().regex(uuid, "must be a UUID").optional(),
  attestationCertificateKeyIdentifiers: z
    .array(z.string().regex(keyIdentifier, "must be 40 hex digits"))
    .max(1000)
    .optional(),
  description: z.string().max(400).optional(),
  attestationTypes: z.array(z.string().max(64)).min(1).max(16),
  authenticationAlgorithms: z.array(z.string().max(64)).min(1).max(32),
  attestationRootCertificates: z.array(z.string().regex(/^[A-Za-z0-9+/=\s]+$/, "must be base64 DER")).max(64),
  authenticatorGetInfo: z
    .looseObject({ algorithms: z.array(z.looseObject({ alg: z.number().int() })).optional() })
    .optional(),
  icon: z.string().optional(),
});

export const statusReportShape = z.looseObject({
  status: z.string().max(64),
  effectiveDate: z.string().max(32).optional(),
});

/**
 * D1 caps a statement at 100 KB; an entry is stored in one row with its icon, so each part has
 * its own budget. A statement over it is not stored (no real one comes close); an icon over it
 * is dropped (it is a display hint).
 */
const MAX_STATEMENT_BYTES = 60_000;
const MAX_ICON_BYTES = 32 * 1024;

/**
 * Icons shown to users must be images a browser renders inertly: raster data: URLs only (an SVG
 * document can carry script when opened on its own).
 */
const rasterIcon = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$/;

export type SkippedEntry = { position: number; reason: string };

/**
 * The entry we store for a statement: found by its AAGUID and its U2F key identifiers (those of
 * the BLOB entry and of the statement), icon kept apart when it is a small raster image; or,
 * when the statement cannot be used, why not.
 */
export function storedEntry(
  raw: unknown,
  statusReports: NewMetadataEntry["statusReports"],
  entryKeys: { aaguid?: string; attestationCertificateKeyIdentifiers?: string[] } = {},
): NewMetadataEntry | string {
  const parsed = metadataStatementShape.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `statement ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`;
  }
  const { icon, ...statement } = parsed.data;
  // The BLOB entry's own keys are read too (they are what MDS3 indexes by), if well-formed.
  const aaguids = [entryKeys.aaguid, statement.aaguid].filter((value): value is string => uuid.test(value ?? ""));
  const keyIds = [
    ...(entryKeys.attestationCertificateKeyIdentifiers ?? []),
    ...(statement.attestationCertificateKeyIdentifiers ?? []),
  ].filter((value) => keyIdentifier.test(value));
  const keys = [...new Set([...aaguids.map(aaguidKey), ...keyIds.map(keyIdentifierKey)])];
  if (keys.length === 0) return "no aaguid and no attestationCertificateKeyIdentifiers (not FIDO2 or U2F)";
  if (new TextEncoder().encode(JSON.stringify(statement)).length > MAX_STATEMENT_BYTES) {
    return `statement larger than ${MAX_STATEMENT_BYTES} bytes`;
  }
  const keptIcon = icon && icon.length <= MAX_ICON_BYTES && rasterIcon.test(icon) ? icon : null;
  return { keys, statement, statusReports, icon: keptIcon };
}

/**
 * COSE algorithm of each FIDO `authenticationAlgorithms` name (FIDO Registry of Predefined
 * Values, "Authentication Algorithms"). Names without a COSE equivalent we verify are absent.
 */
const coseAlgorithmOf: Readonly<Record<string, number>> = {
  secp256r1_ecdsa_sha256_raw: -7,
  secp256r1_ecdsa_sha256_der: -7,
  rsassa_pss_sha256_raw: -37,
  rsassa_pss_sha256_der: -37,
  rsassa_pss_sha384_raw: -38,
  rsassa_pss_sha512_raw: -39,
  secp256k1_ecdsa_sha256_raw: -47,
  secp256k1_ecdsa_sha256_der: -47,
  // What Windows Hello's statements list for RS256.
  rsa_emsa_pkcs1_sha256_raw: -257,
  rsa_emsa_pkcs1_sha256_der: -257,
  rsassa_pkcsv15_sha256_raw: -257,
  rsassa_pkcsv15_sha384_raw: -258,
  rsassa_pkcsv15_sha512_raw: -259,
  rsassa_pkcsv15_sha1_raw: -65535,
  secp384r1_ecdsa_sha384_raw: -35,
  secp521r1_ecdsa_sha512_raw: -36,
  ed25519_eddsa_sha512_raw: -8,
};

/** The COSE algorithms a statement says the authenticator makes credentials with. */
export function credentialAlgorithms(statement: Record<string, unknown>): number[] {
  const names = Array.isArray(statement.authenticationAlgorithms) ? statement.authenticationAlgorithms : [];
  return names
    .map((name) => (Object.hasOwn(coseAlgorithmOf, String(name)) ? coseAlgorithmOf[String(name)] : undefined))
    .filter((alg): alg is number => alg !== undefined);
}

/** The algorithms of authenticatorGetInfo, when the statement gives them (else null: no constraint). */
export function getInfoAlgorithms(statement: Record<string, unknown>): number[] | null {
  const info = statement.authenticatorGetInfo as { algorithms?: { alg?: unknown }[] } | undefined;
  if (!Array.isArray(info?.algorithms)) return null;
  return info.algorithms.map((entry) => Number(entry?.alg)).filter(Number.isInteger);
}
