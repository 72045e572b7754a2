import type { Config } from "../config/config";
import {
  type MetadataRepository,
  MetadataTooLargeError,
  type NewMetadataEntry,
  type NewMetadataSource,
} from "../db/metadata-repository";
import type { MetadataSourceRow } from "../db/schema";
import { AppError } from "../errors";
import { errorChain } from "../observability/error-chain";
import type { Logger } from "../observability/logger";
import type { SecurityEvent, SecurityEvents } from "../observability/security-events";
import { verifyMetadataBlob } from "./metadata-blob";
import { type SkippedEntry, storedEntry } from "./metadata-statement";

/** The source MDS_URL refreshes, and the default name of a BLOB an operator loads. */
export const MDS_SOURCE = "mds";
/** Where loose statements go (one set, replaced as a whole): a test aid, see docs/conformance.md. */
export const STATEMENTS_SOURCE = "statements";

/** A BLOB whose number is not higher than the loaded one's: FIDO MDS says to ignore it. */
class StaleMetadataBlob extends AppError {
  constructor(no: number, current: number | undefined) {
    super("METADATA_REJECTED", `The metadata BLOB number ${no} is not higher than the loaded one (${current ?? "?"})`);
  }
}

export type MetadataPorts = {
  config: Config;
  metadata: MetadataRepository;
  events: SecurityEvents;
  logger: Logger;
  now: () => Date;
};

export type MetadataSourceSummary = {
  source: string;
  kind: "blob" | "statements";
  /** The BLOB's serial number; null for statements. */
  no: number | null;
  nextUpdate: string | null;
  entryCount: number;
  loadedAt: string;
  checkedAt: string | null;
};

export type MetadataLoadResult = MetadataSourceSummary & {
  /** Entries that were not stored, with why (at most the first 20; skippedCount has them all). */
  skipped: SkippedEntry[];
  skippedCount: number;
};

/**
 * Operator actions on FIDO metadata, behind ADMIN_API_KEY. Each one, reads and refused loads
 * included, is a security event in the audit trail (reason "admin_api", as in
 * src/accounts/administration.ts; a refusal adds its cause).
 */
function audit(
  ports: MetadataPorts,
  event: SecurityEvent["event"],
  outcome: SecurityEvent["outcome"] = "success",
  cause?: string,
): void {
  ports.events.record({ event, outcome, reason: cause ? `admin_api:${cause}` : "admin_api" });
}

export async function listMetadataSources(ports: MetadataPorts): Promise<{ sources: MetadataSourceSummary[] }> {
  const sources = await ports.metadata.sources();
  audit(ports, "admin_metadata_viewed");
  return { sources: sources.map(summary) };
}

/** Verifies a BLOB (metadata-blob.ts) and, if its number is higher than the source's, swaps it in. */
export async function loadMetadataBlob(
  input: { blob: string; source: string },
  ports: MetadataPorts,
): Promise<MetadataLoadResult> {
  try {
    const result = await storeBlob(input.blob, input.source, null, ports);
    audit(ports, "admin_metadata_loaded");
    return result;
  } catch (error) {
    audit(ports, "admin_metadata_loaded", "failure", causeOf(error));
    throw error;
  }
}

/**
 * Loose metadata statements (the JSON files of the FIDO conformance tool's metadata download,
 * or a private authenticator's) as trust anchors. Unsigned: the admin key is their only
 * warrant, so this is a test aid — see docs/conformance.md.
 */
export async function loadMetadataStatements(statements: unknown[], ports: MetadataPorts): Promise<MetadataLoadResult> {
  try {
    const entries: NewMetadataEntry[] = [];
    const skipped: SkippedEntry[] = [];
    statements.forEach((statement, position) => {
      const stored = storedEntry(statement, []);
      if (typeof stored === "string") skipped.push({ position, reason: stored });
      else entries.push(stored);
    });
    const source: NewMetadataSource = {
      name: STATEMENTS_SOURCE,
      kind: "statements",
      no: 0,
      nextUpdate: null,
      checkedAt: null,
    };
    await replace(source, entries, ports);
    ports.logger.log("info", { type: "metadata_loaded", source: STATEMENTS_SOURCE, entries: entries.length });
    audit(ports, "admin_metadata_loaded");
    return result(await loaded(STATEMENTS_SOURCE, ports), skipped);
  } catch (error) {
    audit(ports, "admin_metadata_loaded", "failure", causeOf(error));
    throw error;
  }
}

export async function removeMetadataSource(name: string, ports: MetadataPorts): Promise<{ source: string }> {
  const removed = await ports.metadata.removeSource(name);
  audit(ports, "admin_metadata_removed", removed ? "success" : "failure", removed ? undefined : "not_found");
  if (!removed) throw new AppError("NOT_FOUND", `No metadata source named "${name}"`);
  return { source: name };
}

/** How long to wait between looks at MDS_URL once the BLOB's nextUpdate has come. */
const RETRY_AFTER_MS = 60 * 60 * 1000;
/** The production FIDO MDS BLOB is several MB; anything far larger is not a BLOB. */
const MAX_FETCHED_BLOB_BYTES = 32 * 1024 * 1024;
const tooLarge = () => new AppError("METADATA_REJECTED", "MDS_URL sent more than 32 MiB");

export type RefreshOutcome = "not_configured" | "not_due" | "loaded" | "not_newer" | "failed";

/**
 * The scheduled refresh (cron): when MDS_URL is set and the "mds" source's nextUpdate has come
 * (or nothing is loaded yet), fetch the BLOB and load it like an operator would. Looks again
 * at most hourly until a newer BLOB appears. Never throws: the outcome is logged and recorded.
 */
export async function refreshMetadataFromUrl(ports: MetadataPorts): Promise<RefreshOutcome> {
  const url = ports.config.attestationTrust.mdsUrl;
  if (!url) return "not_configured";
  const now = ports.now();
  const record = (outcome: SecurityEvent["outcome"], reason: string) =>
    ports.events.record({ event: "metadata_refreshed", outcome, reason });
  let current: MetadataSourceRow | undefined;
  try {
    current = await ports.metadata.source(MDS_SOURCE);
    if (current && !isDue(current, now)) return "not_due";
    const response = await fetch(url, { signal: AbortSignal.timeout(60_000), headers: { accept: "application/jwt" } });
    if (!response.ok) throw new AppError("METADATA_REJECTED", `MDS_URL answered HTTP ${response.status}`);
    const length = Number(response.headers.get("content-length") ?? 0);
    if (length > MAX_FETCHED_BLOB_BYTES) throw tooLarge();
    const blob = (await response.text()).trim();
    if (blob.length > MAX_FETCHED_BLOB_BYTES) throw tooLarge();
    const loadedBlob = await storeBlob(blob, MDS_SOURCE, now, ports);
    record("success", "scheduled");
    ports.logger.log("info", { type: "metadata_refresh", outcome: "loaded", no: loadedBlob.no });
    return "loaded";
  } catch (error) {
    const notNewer = error instanceof StaleMetadataBlob;
    if (current) await ports.metadata.markChecked(MDS_SOURCE, now).catch(() => undefined);
    if (notNewer) {
      ports.logger.log("info", { type: "metadata_refresh", outcome: "not_newer", no: current?.no ?? null });
      return "not_newer";
    }
    record("failure", `scheduled:${causeOf(error)}`);
    ports.logger.log("warn", {
      type: "metadata_refresh",
      outcome: "failed",
      error: errorChain(error),
    });
    return "failed";
  }
}

function isDue(current: MetadataSourceRow, now: Date): boolean {
  if (current.kind !== "blob" || !current.nextUpdate) return true;
  if (now < new Date(`${current.nextUpdate}T00:00:00Z`)) return false;
  return !current.checkedAt || now.getTime() - current.checkedAt.getTime() >= RETRY_AFTER_MS;
}

async function storeBlob(
  blob: string,
  name: string,
  checkedAt: Date | null,
  ports: MetadataPorts,
): Promise<MetadataLoadResult> {
  const verified = await verifyMetadataBlob(blob, ports.config.attestationTrust.mdsRootCertificate, ports.now());
  const current = await ports.metadata.source(name);
  const stale = () => new StaleMetadataBlob(verified.no, current?.no);
  // FIDO MDS: ignore a BLOB whose number is not higher than the last one loaded.
  if (current?.kind === "blob" && verified.no <= current.no) throw stale();
  const source: NewMetadataSource = { name, kind: "blob", no: verified.no, nextUpdate: verified.nextUpdate, checkedAt };
  if (!(await replace(source, verified.entries, ports))) throw stale();
  ports.logger.log("info", {
    type: "metadata_loaded",
    source: name,
    no: verified.no,
    nextUpdate: verified.nextUpdate,
    entries: verified.entries.length,
    skipped: verified.skipped.length,
  });
  return result(await loaded(name, ports), verified.skipped);
}

async function replace(source: NewMetadataSource, entries: NewMetadataEntry[], ports: MetadataPorts) {
  try {
    return await ports.metadata.replaceSource(source, entries, ports.now());
  } catch (error) {
    if (error instanceof MetadataTooLargeError) {
      throw new AppError("METADATA_REJECTED", `The metadata is too large to store in one go: ${error.message}`);
    }
    throw error;
  }
}

async function loaded(name: string, ports: MetadataPorts): Promise<MetadataSourceRow> {
  const row = await ports.metadata.source(name);
  if (!row) throw new AppError("INTERNAL_ERROR", "The metadata source vanished after loading");
  return row;
}

function result(row: MetadataSourceRow, skipped: SkippedEntry[]): MetadataLoadResult {
  return { ...summary(row), skipped: skipped.slice(0, 20), skippedCount: skipped.length };
}

function summary(row: MetadataSourceRow): MetadataSourceSummary {
  return {
    source: row.name,
    kind: row.kind,
    no: row.kind === "blob" ? row.no : null,
    nextUpdate: row.nextUpdate,
    entryCount: row.entryCount,
    loadedAt: row.loadedAt.toISOString(),
    checkedAt: row.checkedAt?.toISOString() ?? null,
  };
}

function causeOf(error: unknown): string {
  if (error instanceof StaleMetadataBlob) return "not_newer";
  if (error instanceof AppError) return error.code.toLowerCase();
  return "error";
}
