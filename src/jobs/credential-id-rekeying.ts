import { parseConfig } from "../config/config";
import type { CredentialIdProtection } from "../crypto/credential-id-protection";
import { loadServerKeys } from "../crypto/server-keys";
import { CredentialRepository } from "../db/credential-repository";
import { openDatabase } from "../db/database";
import { jsonLogger } from "../observability/logger";

export type RekeyReport = {
  /** Rows now sealed under the current key and indexed under the current index key. */
  rekeyed: number;
  /** Rows a sign-in re-keyed between our read and our write (they are current too). */
  changedMeanwhile: number;
  /** Rows that would not open with any configured key: keep their old key until resolved. */
  unreadable: number;
  /** Rows still sealed under another key after this run (unreadable ones included). */
  remaining: number;
};

/**
 * Brings rows protected under older keys up to the current ones, a page at a time, at most
 * `maxRows` per call. Every row sealed under the current encryption key was also indexed
 * under the current index key (both columns are always written together), so "not sealed
 * under the current key" is the whole work list; that is why an index key rotation always
 * comes with a new encryption key (docs/security.md).
 */
export async function rekeyCredentialIds(
  repository: CredentialRepository,
  protection: CredentialIdProtection,
  { pageSize = 100, maxRows = 1000 } = {},
): Promise<RekeyReport> {
  const report: RekeyReport = { rekeyed: 0, changedMeanwhile: 0, unreadable: 0, remaining: 0 };
  let cursor = "";
  for (let seen = 0; seen < maxRows; ) {
    const page = await repository.pageNotSealedUnder(
      protection.currentKeyId,
      cursor,
      Math.min(pageSize, maxRows - seen),
    );
    if (page.length === 0) break;
    seen += page.length;
    cursor = page.at(-1)?.id ?? cursor;
    const changes = [];
    for (const row of page) {
      try {
        const credentialId = await protection.open(row.credentialIdEncrypted, row.credentialIdHash);
        const next = await protection.upToDate(credentialId, row);
        if (next) changes.push({ row, next });
      } catch {
        report.unreadable++;
      }
    }
    const swapped = await repository.replaceProtectedIds(changes);
    report.rekeyed += swapped;
    report.changedMeanwhile += changes.length - swapped;
  }
  report.remaining = await repository.countNotSealedUnder(protection.currentKeyId);
  return report;
}

/**
 * The cron trigger's work: while a key rotation is configured (more than one key of either
 * kind), re-key a bounded batch and log how many rows are left. Outside a rotation it does
 * not touch the database at all.
 */
export async function runCredentialIdRekeying(env: Env): Promise<void> {
  const config = parseConfig(env as unknown as Record<string, unknown>);
  const logger = jsonLogger(config.logLevel, { type: "credential_id_rekey" });
  const { credentialIds } = await loadServerKeys(config);
  const keys = credentialIds.keyCounts;
  if (keys.sealing === 1 && keys.index === 1) return;
  if (keys.sealing === 1) {
    // Rows indexed under the previous key cannot be found by the sweep without a new
    // encryption key to tell them apart; sign-ins still re-index their own rows.
    logger.log("warn", { outcome: "skipped", reason: "index_key_rotation_without_new_encryption_key" });
    return;
  }
  const report = await rekeyCredentialIds(new CredentialRepository(openDatabase(env.DB)), credentialIds);
  logger.log(report.unreadable > 0 ? "warn" : "info", {
    outcome: report.remaining === 0 ? "complete" : "in_progress",
    currentKeyId: credentialIds.currentKeyId,
    ...report,
  });
}
