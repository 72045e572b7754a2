import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppError } from "../errors";

/** Success envelope: `{"status":"ok","data":…,"timestamp":…}`. */
export function ok<T>(c: Context, data: T, status: ContentfulStatusCode = 200) {
  return c.json({ status: "ok" as const, data, timestamp: new Date().toISOString() }, status);
}

/** Failure envelope; built only by the error handler, from an AppError. */
export function errorBody(error: AppError) {
  return {
    status: "error" as const,
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    },
    timestamp: new Date().toISOString(),
  };
}
