export type LogLevel = "debug" | "info" | "warn" | "error";

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Logger = {
  log(level: LogLevel, fields: Record<string, unknown>): void;
};

/**
 * One JSON object per line, which Workers Logs and `wrangler tail` index by field.
 * Callers pass only identifiers and outcomes: never keys, tokens, signatures or raw
 * credential material.
 */
export function jsonLogger(minimum: LogLevel, base: Record<string, unknown> = {}): Logger {
  return {
    log(level, fields) {
      if (rank[level] < rank[minimum]) return;
      const line = JSON.stringify({ time: new Date().toISOString(), level, ...base, ...fields });
      if (level === "error") console.error(line);
      else if (level === "warn") console.warn(line);
      else console.log(line);
    },
  };
}
