import { desc, eq, sql } from "drizzle-orm";
import type { Database } from "./database";
import { type MetadataBlobRow, type MetadataEntryRow, metadataBlobs, metadataEntries } from "./schema";

export type NewMetadataBlob = Pick<MetadataBlobRow, "no" | "nextUpdate">;
export type NewMetadataEntry = Omit<MetadataEntryRow, "blobNo">;

// D1 binds at most 100 parameters per statement; an entry row takes 4.
const ENTRIES_PER_INSERT = 25;

export class MetadataRepository {
  constructor(private readonly db: Database) {}

  async currentBlob(): Promise<MetadataBlobRow | undefined> {
    return this.db.select().from(metadataBlobs).orderBy(desc(metadataBlobs.no)).limit(1).get();
  }

  async findEntry(key: string): Promise<MetadataEntryRow | undefined> {
    return this.db.select().from(metadataEntries).where(eq(metadataEntries.key, key)).get();
  }

  /**
   * Swaps in a new BLOB's entries in one batch (one transaction): registrations see the old
   * set or the new one, never a mix. The BLOB row goes first and is written only if its number
   * is the highest (otherwise its NOT NULL column gets a NULL, which aborts the whole batch),
   * so a concurrent load of an older BLOB cannot win. Returns false when it was not the newest.
   */
  async replace(blob: NewMetadataBlob, entries: NewMetadataEntry[]): Promise<boolean> {
    const inserts = [];
    for (let i = 0; i < entries.length; i += ENTRIES_PER_INSERT) {
      const rows = entries.slice(i, i + ENTRIES_PER_INSERT).map((entry) => ({ ...entry, blobNo: blob.no }));
      inserts.push(this.db.insert(metadataEntries).values(rows));
    }
    try {
      await this.db.batch([
        this.db.insert(metadataBlobs).values({
          no: blob.no,
          nextUpdate: sql`CASE WHEN EXISTS (SELECT 1 FROM metadata_blobs WHERE no >= ${blob.no}) THEN NULL ELSE ${blob.nextUpdate} END`,
          entryCount: entries.length,
        }),
        this.db.delete(metadataEntries),
        ...inserts,
      ]);
      return true;
    } catch (error) {
      const text = String((error as { cause?: unknown })?.cause ?? "") + String((error as Error)?.message ?? "");
      if (text.includes("NOT NULL constraint failed") && text.includes("metadata_blobs.next_update")) return false;
      throw error;
    }
  }
}
