import { DrizzleQueryError } from "drizzle-orm";

/** One error of a cause chain, as the log may show it. */
export type LoggedError = {
  name: string;
  message: string;
  /** A code the error carries (`code`), or the first SQLite result code its message names. */
  code?: string;
  /** The failed statement's SQL: its bound values are never logged. */
  query?: string;
  /** Durable Object errors say whether a retry may succeed. */
  retryable?: boolean;
  overloaded?: boolean;
};

const MAX_LINKS = 5;
const MAX_TEXT = 300;

/**
 * The error and its causes, outermost first, for the log. Drizzle's message for a failed
 * query repeats every bound value (usernames, names users typed, credential material), so
 * for that link only the statement is kept; the cause below it is D1's own message, which
 * names the failure (e.g. `UNIQUE constraint failed: users.username: SQLITE_CONSTRAINT`),
 * never a value.
 */
export function errorChain(error: unknown): LoggedError[] {
  const chain: LoggedError[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < MAX_LINKS && !seen.has(current)) {
    seen.add(current);
    chain.push(linkOf(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}

function linkOf(error: unknown): LoggedError {
  if (!(error instanceof Error)) return { name: typeof error, message: "non-error thrown" };
  if (error instanceof DrizzleQueryError) {
    return { name: "DrizzleQueryError", message: "Failed query", query: error.query.slice(0, MAX_TEXT) };
  }
  const described: LoggedError = { name: error.name, message: error.message.slice(0, MAX_TEXT) };
  const { code, retryable, overloaded } = error as { code?: unknown; retryable?: unknown; overloaded?: unknown };
  const sqliteCode = /\b(SQLITE_[A-Z_]+)/.exec(error.message)?.[1];
  if (typeof code === "string" || typeof code === "number") described.code = String(code);
  else if (sqliteCode) described.code = sqliteCode;
  if (typeof retryable === "boolean") described.retryable = retryable;
  if (typeof overloaded === "boolean") described.overloaded = overloaded;
  return described;
}

/**
 * Whether the error (or one of its causes) came from D1 or a Durable Object: D1 names its
 * errors `D1_…` in the message, the ORM wraps a failed statement in DrizzleQueryError, and a
 * Durable Object call's errors say whether they are `retryable`, `overloaded` or `remote`.
 */
export function isStorageFault(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let current = error; current instanceof Error && !seen.has(current); current = current.cause) {
    seen.add(current);
    if (current instanceof DrizzleQueryError || /^D1_[A-Z_]+\b/.test(current.message) || current.name === "D1_ERROR") {
      return true;
    }
    const flags = current as { retryable?: unknown; overloaded?: unknown; remote?: unknown };
    if (typeof flags.retryable === "boolean" || flags.overloaded === true || flags.remote === true) return true;
  }
  return false;
}
