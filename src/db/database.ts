import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

const connect = (d1: D1Database) => drizzle(d1, { schema });
export type Database = ReturnType<typeof connect>;

// Per-isolate cache: Drizzle maps the whole schema each time it is set up (about half a millisecond of CPU, per
// `npm run bench` profiles); the binding lives as long as the isolate, so that happens once.
const opened = new WeakMap<D1Database, Database>();

export function openDatabase(d1: D1Database): Database {
  // A missing binding (a broken deploy) cannot key the cache; the first query fails instead, and
  // the health check reports it as a 503.
  if (typeof d1 !== "object" || d1 === null) return connect(d1);
  let db = opened.get(d1);
  if (!db) {
    db = connect(d1);
    opened.set(d1, db);
  }
  return db;
}

/**
 * Reads that may come from the nearest read replica (D1 Sessions API, "first-unconstrained"):
 * only for reads where a moment's staleness changes no decision, such as what a browser is
 * offered in ceremony options. Rules (active passkey and account, counters) are read and
 * enforced on the primary. Without replication this reaches the primary like any other read.
 */
export function openReplicaSession(d1: D1Database): D1Database {
  // A session prepares and batches like the database; the repository runs its prepared
  // queries on it (src/db/credential-repository.ts), so no Drizzle instance per request.
  return d1.withSession("first-unconstrained") as unknown as D1Database;
}

/** D1 reports constraint violations only in the message text. */
export function uniqueViolationOn(error: unknown, column: string): boolean {
  const text = String((error as { cause?: unknown })?.cause ?? "") + String((error as Error)?.message ?? "");
  return text.includes("UNIQUE constraint failed") && text.includes(column);
}
