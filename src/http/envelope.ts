import type { Context, TypedResponse } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { JSONParsed } from "hono/utils/types";
import type { AppError } from "../errors";

type Ok<T> = { status: "ok"; data: T; timestamp: string };

/**
 * Success envelope: `{"status":"ok","data":…,"timestamp":…}`. The return type is spelled out so
 * the app's declarations (tsconfig.client.json, for the typed client) stay within what tsc writes.
 */
export function ok<T>(
  c: Context,
  data: T,
  status: ContentfulStatusCode = 200,
): Response & TypedResponse<JSONParsed<Ok<T>>, ContentfulStatusCode, "json"> {
  const body: Ok<T> = { status: "ok", data, timestamp: new Date().toISOString() };
  return c.json<Ok<T>, ContentfulStatusCode>(body, status);
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
