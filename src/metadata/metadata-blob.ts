import { SettingsService } from "@simplewebauthn/server";
import { isoBase64URL, verifyMDSBlob } from "@simplewebauthn/server/helpers";
import { z } from "zod";
import type { NewMetadataEntry } from "../db/metadata-repository";
import { AppError, reasonOf } from "../errors";
import { type SkippedEntry, statusReportShape, storedEntry } from "./metadata-statement";

// The FIDO Alliance's production MDS3 root, as SimpleWebAuthn ships it (read once, no I/O).
const bundledMdsRoots = SettingsService.getRootCertificates({ identifier: "mds" });

export type VerifiedMetadataBlob = {
  no: number;
  nextUpdate: string;
  entries: NewMetadataEntry[];
  /** Entries that cannot be used (not FIDO2/U2F, or a statement missing what the policy reads). */
  skipped: SkippedEntry[];
};

const payloadShape = z.object({
  no: z.number().int().positive(),
  nextUpdate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  // Entries are checked one by one: one malformed entry must not cost the whole BLOB.
  entries: z.array(z.unknown()),
});

const entryShape = z.looseObject({
  aaguid: z.string().optional(),
  attestationCertificateKeyIdentifiers: z.array(z.string()).optional(),
  metadataStatement: z.unknown().optional(),
  statusReports: z.array(statusReportShape),
});

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
    const cause = (error as { cause?: unknown })?.cause;
    const detail = cause ? `: ${reasonOf(cause)}` : "";
    throw new AppError("METADATA_REJECTED", `The metadata BLOB was refused: ${reasonOf(error)}${detail}`);
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
  const skipped: SkippedEntry[] = [];
  entries.forEach((raw, position) => {
    const entry = entryShape.safeParse(raw);
    if (!entry.success) {
      skipped.push({ position, reason: "not an MDS3 entry (statusReports missing or malformed)" });
      return;
    }
    if (entry.data.metadataStatement === undefined) {
      skipped.push({ position, reason: "no metadataStatement" });
      return;
    }
    const stored = storedEntry(entry.data.metadataStatement, entry.data.statusReports, entry.data);
    if (typeof stored === "string") skipped.push({ position, reason: stored });
    else rows.push(stored);
  });
  return { no, nextUpdate, entries: rows, skipped };
}

/** MDS_ROOT_CERT is PEM, or the certificate's DER in base64. */
function certificateOf(value: string): string | Uint8Array<ArrayBuffer> {
  if (value.includes("-----BEGIN CERTIFICATE-----")) return value;
  try {
    return new Uint8Array(isoBase64URL.toBuffer(value.replace(/\s+/g, ""), "base64"));
  } catch {
    throw new AppError("CONFIGURATION_ERROR", "MDS_ROOT_CERT is neither PEM nor base64 DER", {
      details: { variables: ["MDS_ROOT_CERT"] },
    });
  }
}
