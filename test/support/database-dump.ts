import { env } from "cloudflare:workers";

export type Row = Record<string, unknown>;

/**
 * Every row of every table the application can see, as the operator's `wrangler d1 export`
 * would: tables listed from sqlite_master (D1's and SQLite's own bookkeeping left out), rows in
 * a fixed order (by their JSON, so tables without a rowid sort too) so that two dumps of the same
 * data compare equal.
 */
export async function dumpDatabase(): Promise<{ table: string; rows: Row[] }[]> {
  const tables = await env.DB.prepare(
    `SELECT name FROM sqlite_master WHERE type = 'table'
       AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'
       AND name <> 'd1_migrations'
     ORDER BY name`,
  ).all<{ name: string }>();
  if (tables.results.length === 0) return [];
  const contents = await env.DB.batch<Row>(tables.results.map(({ name }) => env.DB.prepare(`SELECT * FROM "${name}"`)));
  return tables.results.map(({ name }, i) => ({ table: name, rows: inFixedOrder(contents[i]?.results ?? []) }));
}

function inFixedOrder(rows: Row[]): Row[] {
  const keyed = rows.map((row) => [JSON.stringify(row), row] as const);
  keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return keyed.map(([, row]) => row);
}
