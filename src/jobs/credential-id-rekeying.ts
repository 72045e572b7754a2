import type { CredentialIdProtection } from "../crypto/credential-id-protection";
import type { CredentialRepository } from "../db/credential-repository";

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
