import { and, asc, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { Database } from "./database";
import {
  type MetadataEntryRow,
  type MetadataSourceRow,
  metadataEntries,
  metadataKeys,
  metadataSources,
} from "./schema";

/** `checkedAt`: set by the scheduled refresh only (an operator's load says nothing about MDS_URL). */
export type NewMetadataSource = Pick<MetadataSourceRow, "name" | "kind" | "no" | "nextUpdate" | "checkedAt">;

/** An entry to store: the keys it is found by, its statement (icon removed) and its status reports. */
export type NewMetadataEntry = {
  keys: string[];
  statement: MetadataEntryRow["statement"];
  statusReports: MetadataEntryRow["statusReports"];
  icon: string | null;
};

/** An entry as the trust policy reads it (never with its icon). */
export type MetadataEntry = Pick<MetadataEntryRow, "source" | "statement" | "statusReports">;

/**
 * D1 binds at most 100 parameters per statement and caps a statement at 100 KB; the rows of
 * one insert stay under both (an entry row binds 5, a key row 3).
 */
const MAX_PARAMETERS = 100;
const MAX_STATEMENT_BYTES = 90_000;
/** D1 allows 1000 queries per invocation (Workers Paid); one load stays well under it. */
export const MAX_STATEMENTS_PER_LOAD = 600;

export class MetadataTooLargeError extends Error {}

export class MetadataRepository {
  constructor(private readonly db: Database) {}

  async sources(): Promise<MetadataSourceRow[]> {
    return this.db.select().from(metadataSources).orderBy(asc(metadataSources.name)).all();
  }

  async source(name: string): Promise<MetadataSourceRow | undefined> {
    return this.db.select().from(metadataSources).where(eq(metadataSources.name, name)).get();
  }

  /** Every entry found by the key, of every source, in a fixed order (source name, then position). */
  async findEntries(key: string): Promise<MetadataEntry[]> {
    return this.db
      .select({
        source: metadataEntries.source,
        statement: metadataEntries.statement,
        statusReports: metadataEntries.statusReports,
      })
      .from(metadataKeys)
      .innerJoin(
        metadataEntries,
        and(eq(metadataEntries.source, metadataKeys.source), eq(metadataEntries.position, metadataKeys.position)),
      )
      .where(eq(metadataKeys.key, key))
      .orderBy(asc(metadataKeys.source), asc(metadataKeys.position))
      .all();
  }

  /** The icon of each key that has one: the first in the same fixed order as findEntries. */
  async iconsFor(keys: string[]): Promise<Map<string, string>> {
    const icons = new Map<string, string>();
    for (let i = 0; i < keys.length; i += MAX_PARAMETERS) {
      const rows = await this.db
        .select({ key: metadataKeys.key, icon: metadataEntries.icon })
        .from(metadataKeys)
        .innerJoin(
          metadataEntries,
          and(eq(metadataEntries.source, metadataKeys.source), eq(metadataEntries.position, metadataKeys.position)),
        )
        .where(and(inArray(metadataKeys.key, keys.slice(i, i + MAX_PARAMETERS)), isNotNull(metadataEntries.icon)))
        .orderBy(asc(metadataKeys.source), asc(metadataKeys.position))
        .all();
      for (const row of rows) if (row.icon && !icons.has(row.key)) icons.set(row.key, row.icon);
    }
    return icons;
  }

  /**
   * Swaps in a source's new entries in one batch (one transaction): registrations see the old
   * set or the new one, never a mix. The source row goes first; for a BLOB it is written only
   * if the BLOB's number is higher than the stored one (otherwise its NOT NULL `no` gets a NULL,
   * which aborts the whole batch), so a concurrent load of an older BLOB cannot win. Returns
   * false when it was not the newest.
   */
  async replaceSource(source: NewMetadataSource, entries: NewMetadataEntry[], now: Date): Promise<boolean> {
    const no =
      source.kind === "blob"
        ? sql`CASE WHEN EXISTS (SELECT 1 FROM metadata_sources WHERE name = ${source.name} AND kind = 'blob' AND no >= ${source.no}) THEN NULL ELSE ${source.no} END`
        : source.no;
    const entryRows = entries.map((entry, position) => ({
      source: source.name,
      position,
      statement: entry.statement,
      statusReports: entry.statusReports,
      icon: entry.icon,
    }));
    const keyRows = entries.flatMap((entry, position) =>
      [...new Set(entry.keys)].map((key) => ({ key, source: source.name, position })),
    );
    const entryInserts = chunks(entryRows, 5).map((rows) => this.db.insert(metadataEntries).values(rows));
    const keyInserts = chunks(keyRows, 3).map((rows) => this.db.insert(metadataKeys).values(rows));
    if (entryInserts.length + keyInserts.length + 3 > MAX_STATEMENTS_PER_LOAD) {
      throw new MetadataTooLargeError(`${entries.length} entries need more than ${MAX_STATEMENTS_PER_LOAD} statements`);
    }
    try {
      await this.db.batch([
        this.db
          .insert(metadataSources)
          .values({ ...source, no, entryCount: entries.length, loadedAt: now })
          .onConflictDoUpdate({
            target: metadataSources.name,
            set: {
              kind: sql`excluded.kind`,
              no: sql`excluded.no`,
              nextUpdate: sql`excluded.next_update`,
              entryCount: sql`excluded.entry_count`,
              loadedAt: sql`excluded.loaded_at`,
              checkedAt: sql`excluded.checked_at`,
            },
          }),
        this.db.delete(metadataKeys).where(eq(metadataKeys.source, source.name)),
        this.db.delete(metadataEntries).where(eq(metadataEntries.source, source.name)),
        ...entryInserts,
        ...keyInserts,
      ]);
      return true;
    } catch (error) {
      const text = String((error as { cause?: unknown })?.cause ?? "") + String((error as Error)?.message ?? "");
      if (text.includes("NOT NULL constraint failed") && text.includes("metadata_sources.no")) return false;
      throw error;
    }
  }

  /** Removes a source and its entries; false if there was none. */
  async removeSource(name: string): Promise<boolean> {
    const [removed] = await this.db.batch([
      this.db.delete(metadataSources).where(eq(metadataSources.name, name)).returning({ name: metadataSources.name }),
      this.db.delete(metadataKeys).where(eq(metadataKeys.source, name)),
      this.db.delete(metadataEntries).where(eq(metadataEntries.source, name)),
    ]);
    return removed.length > 0;
  }

  /** Records a scheduled look at a source's URL that brought nothing newer. */
  async markChecked(name: string, at: Date): Promise<void> {
    await this.db.update(metadataSources).set({ checkedAt: at }).where(eq(metadataSources.name, name)).run();
  }
}

/**
 * Rows per insert within D1's limits: at most 100 bound parameters, and their values under the
 * statement size cap (whether D1 counts bound values in it is not documented; we assume it does).
 * Callers keep single rows under the cap (src/metadata/metadata-blob.ts).
 */
function chunks<T extends object>(rows: T[], parameters: number): T[][] {
  const perInsert = Math.floor(MAX_PARAMETERS / parameters);
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = rowBytes(row);
    if (current.length > 0 && (current.length >= perInsert || bytes + size > MAX_STATEMENT_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

const utf8 = new TextEncoder();

function rowBytes(row: object): number {
  let bytes = 0;
  for (const value of Object.values(row)) {
    if (typeof value === "string") bytes += utf8.encode(value).length;
    else if (value !== null && typeof value === "object") bytes += utf8.encode(JSON.stringify(value)).length;
    else bytes += 8;
  }
  return bytes;
}
