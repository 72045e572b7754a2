import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Database = ReturnType<typeof openDatabase>;

export const openDatabase = (d1: D1Database) => drizzle(d1, { schema });

/** D1 reports constraint violations only in the message text. */
export function uniqueViolationOn(error: unknown, column: string): boolean {
  const text = String((error as { cause?: unknown })?.cause ?? "") + String((error as Error)?.message ?? "");
  return text.includes("UNIQUE constraint failed") && text.includes(column);
}
