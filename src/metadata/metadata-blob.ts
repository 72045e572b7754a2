import { SettingsService } from "@simplewebauthn/server";
import { isoBase64URL, verifyMDSBlob } from "@simplewebauthn/server/helpers";
import { z } from "zod";
import type { NewMetadataEntry } from "../db/metadata-repository";
import { AppError, reasonOf } from "../errors";

// The FIDO Alliance's production MDS3 root, as SimpleWebAuthn ships it (read once, no I/O).
const bundledMdsRoots = SettingsService.getRootCertificates({ identifier: "mds" });

export type VerifiedMetadataBlob = { no: number; nextUpdate: string; entries: NewMetadataEntry[] };

const payloadShape = z.object({
  no: z.number().int().positive(),
  nextUpdate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  entries: z.array(
    z.looseObject({
      aaguid: z.string().optional(),
      attestationCertificateKeyIdentifiers: z.array(z.string()).optional(),
      metadataStatement: z.looseObject({ attestationTypes: z.array(z.string()) }).optional(),
      statusReports: z.array(z.looseObject({ status: z.string(), effectiveDate: z.string().optional() })),
    }),
  ),
});

/** Metadata lookup key of a FIDO2 authenticator model. */
export const aaguidKey = (aaguid: string) => `aaguid:${aaguid.toLowerCase()}`;
/** Metadata lookup key of a U2F authenticator: its attestation certificate's key identifier. */
export const keyIdentifierKey = (hex: string) => `akid:${hex.toLowerCase()}`;

/**
 * Verifies a metadata BLOB (a JWT) the way FIDO MDS3 asks — its x5c chain up to the configured
 * root, with CRL checks of each chain certificate, then its signature, all by SimpleWebAuthn's
 * `verifyMDSBlob` — and returns its entries keyed for lookup. A BLOB that fails any check, or
 * whose next update date has passed, is refused whole.
 */
export async function verifyMetadataBlob(
  blob: string,
  rootCertificate: string | null,
  now: Date,
): Promise<VerifiedMetadataBlob> {
  // The library reads the root from its settings; set on every call, so a root configured for
  // one environment never lingers for another in the same isolate.
  SettingsService.setRootCertificates({
    identifier: "mds",
    certificates: rootCertificate ? [certificateOf(rootCertificate)] : bundledMdsRoots,
  });
  let payload: unknown;
  try {
    payload = (await verifyMDSBlob(blob)).payload;
  } catch (error) {
    throw new AppError("METADATA_REJECTED", `The metadata BLOB was refused: ${reasonOf(error)}`);
  }
  const parsed = payloadShape.safeParse(payload);
  if (!parsed.success) {
    throw new AppError("METADATA_REJECTED", "The metadata BLOB payload is not an MDS3 payload");
  }
  const { no, nextUpdate, entries } = parsed.data;
  if (new Date(`${nextUpdate}T23:59:59Z`) < now) {
    throw new AppError("METADATA_REJECTED", `The metadata BLOB is out of date (nextUpdate ${nextUpdate})`);
  }

  const rows: NewMetadataEntry[] = [];
  for (const entry of entries) {
    if (!entry.metadataStatement) continue;
    // Icons are data URLs of up to tens of kilobytes; trust decisions never need them.
    const { icon: _icon, ...statement } = entry.metadataStatement;
    const keys = [
      ...(entry.aaguid ? [aaguidKey(entry.aaguid)] : []),
      ...(entry.attestationCertificateKeyIdentifiers ?? []).map(keyIdentifierKey),
    ];
    for (const key of new Set(keys)) rows.push({ key, statement, statusReports: entry.statusReports });
  }
  return { no, nextUpdate, entries: rows };
}

/** MDS_ROOT_CERT is PEM, or the certificate's DER in base64. */
function certificateOf(value: string): string | Uint8Array<ArrayBuffer> {
  if (value.includes("-----BEGIN CERTIFICATE-----")) return value;
  try {
    return new Uint8Array(isoBase64URL.toBuffer(value.replace(/\s+/g, ""), "base64"));
  } catch {
    throw new AppError("CONFIGURATION_ERROR", "MDS_ROOT_CERT is neither PEM nor base64 DER", {
      variables: ["MDS_ROOT_CERT"],
    });
  }
}
