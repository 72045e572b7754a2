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
/** A BLOB's statements also bind its name and number (the condition in replaceSource). */
const CONDITION_PARAMETERS = 2;
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
   * set or the new one, never a mix. A BLOB replaces a source only if its number is higher than
   * the stored one, so a concurrent load of an older BLOB cannot win: every statement of the
   * batch carries that condition, judged on the source row as it was when the batch began (the
   * row is written last), so either all of them write or none does. Returns false when it was
   * not the newest (the source row was not written, as RETURNING shows).
   */
  async replaceSource(source: NewMetadataSource, entries: NewMetadataEntry[], now: Date): Promise<boolean> {
    const newest =
      source.kind === "blob"
        ? sql`NOT EXISTS (SELECT 1 FROM metadata_sources WHERE name = ${source.name} AND kind = 'blob' AND no >= ${source.no})`
        : sql`1`;
    const entryRows = entries.map((entry, position) => [
      source.name,
      position,
      JSON.stringify(entry.statement),
      JSON.stringify(entry.statusReports),
      entry.icon,
    ]);
    const keyRows = entries.flatMap((entry, position) =>
      [...new Set(entry.keys)].map((key) => [key, source.name, position]),
    );
    // INSERT … SELECT … WHERE: the rows are written only while the condition holds. Columns in the
    // tables' order (schema.ts): metadata_entries (source, position, statement, status_reports,
    // icon), metadata_keys (key, source, position).
    const entryInserts = chunks(entryRows, 5).map((rows) =>
      this.db.insert(metadataEntries).select(sql`SELECT * FROM (${valuesOf(rows)}) WHERE ${newest}`),
    );
    const keyInserts = chunks(keyRows, 3).map((rows) =>
      this.db.insert(metadataKeys).select(sql`SELECT * FROM (${valuesOf(rows)}) WHERE ${newest}`),
    );
    if (entryInserts.length + keyInserts.length + 3 > MAX_STATEMENTS_PER_LOAD) {
      throw new MetadataTooLargeError(`${entries.length} entries need more than ${MAX_STATEMENTS_PER_LOAD} statements`);
    }
    const results = await this.db.batch([
      this.db.delete(metadataKeys).where(and(eq(metadataKeys.source, source.name), newest)),
      this.db.delete(metadataEntries).where(and(eq(metadataEntries.source, source.name), newest)),
      ...entryInserts,
      ...keyInserts,
      // Last, so the condition above saw the row as it was; written under the same condition.
      this.db
        .insert(metadataSources)
        .values({ ...source, entryCount: entries.length, loadedAt: now })
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
          // With no row yet the condition holds anyway: only an existing row can refuse.
          setWhere: newest,
        })
        .returning({ name: metadataSources.name }),
    ]);
    const written = results.at(-1) as { name: string }[];
    return written.length > 0;
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
  const perInsert = Math.floor((MAX_PARAMETERS - CONDITION_PARAMETERS) / parameters);
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

/** `VALUES (?, …), (?, …)`: rows of bound values, read by INSERT … SELECT. */
function valuesOf(rows: unknown[][]) {
  return sql.join(
    [
      sql`VALUES `,
      sql.join(
        rows.map(
          (row) =>
            sql`(${sql.join(
              row.map((value) => sql`${value}`),
              sql`, `,
            )})`,
        ),
        sql`, `,
      ),
    ],
    sql``,
  );
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
