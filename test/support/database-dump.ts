import { env } from "cloudflare:workers";

export type Row = Record<string, unknown>;

const listTables = () =>
  env.DB.prepare(
    `SELECT name FROM sqlite_master WHERE type = 'table'
       AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'
       AND name <> 'd1_migrations'
     ORDER BY name`,
  );

/** The tables the last dump found: read together with the list, in one round trip, and checked against it. */
let lastTables: string[] = [];

/**
 * Every row of every table the application can see, as the operator's `wrangler d1 export`
 * would: tables listed from sqlite_master (D1's and SQLite's own bookkeeping left out), rows in
 * a fixed order (by their JSON, so tables without a rowid sort too) so that two dumps of the same
 * data compare equal. One batch (one transaction) lists the tables and reads the ones listed
 * last time (the fuzzers dump thousands of times); if the list changed, it reads again.
 */
export async function dumpDatabase(): Promise<{ table: string; rows: Row[] }[]> {
  for (;;) {
    const assumed = lastTables;
    let results: D1Result<Row>[];
    try {
      results = await env.DB.batch<Row>([
        listTables(),
        ...assumed.map((name) => env.DB.prepare(`SELECT * FROM "${name}"`)),
      ]);
    } catch (error) {
      // A table listed last time is gone: list again before reading.
      if (assumed.length === 0) throw error;
      lastTables = [];
      continue;
    }
    const [listed, ...contents] = results;
    const tables = (listed?.results ?? []).map((row) => row.name as string);
    if (tables.length === assumed.length && tables.every((name, i) => name === assumed[i])) {
      return tables.map((table, i) => ({ table, rows: inFixedOrder(contents[i]?.results ?? []) }));
    }
    lastTables = tables;
  }
}

function inFixedOrder(rows: Row[]): Row[] {
  const keyed = rows.map((row) => [JSON.stringify(row), row] as const);
  keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return keyed.map(([, row]) => row);
}
