import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError, type ErrorCode } from "../errors";
import { errorChain } from "../observability/error-chain";
import { jsonLogger } from "../observability/logger";
import type { AppEnv } from "./app-env";
import { errorBody } from "./envelope";

const codeForHttpStatus: Record<number, ErrorCode> = {
  400: "INVALID_REQUEST",
  401: "UNAUTHORIZED",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RATE_LIMIT_EXCEEDED",
};

/** The single place where errors become HTTP responses. */
export function handleError(error: unknown, c: Context<AppEnv>) {
  const appError = toAppError(error);
  if (appError.status >= 500) {
    const logger = c.get("logger") ?? jsonLogger("info");
    logger.log("error", {
      type: "internal_error",
      requestId: c.get("requestId"),
      code: appError.code,
      // The cause chain's names, messages and codes: a storage fault's own message is in its
      // cause. Never a failed query's bound values (src/observability/error-chain.ts).
      error: errorChain(error),
    });
  }
  return c.json(errorBody(appError), appError.status as ContentfulStatusCode);
}

function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof HTTPException) {
    const code = codeForHttpStatus[error.status] ?? (error.status >= 500 ? "INTERNAL_ERROR" : "INVALID_REQUEST");
    return new AppError(code, error.message || "Invalid request");
  }
  return new AppError("INTERNAL_ERROR", undefined, { cause: error });
}
