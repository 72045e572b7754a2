// The passkey server's API through Hono's typed client: paths, request bodies and answers are
// typed from the server's own routes (`AppType`, src/app.ts), so a server change the demo does
// not follow fails `npm run typecheck`. Every answer comes in one envelope:
// {"status":"ok","data":…} or {"status":"error","error":{"code","message"}}; `call` returns
// `data` or throws an ApiError carrying the error code.
import { hc } from "hono/client";
// Declarations of the server's types, written by `npm run typecheck` (tsconfig.client.json).
import type { AppType } from "../.api-types/app";

/** Same origin as the demo; from another origin use the server's URL (and list yours in CORS_ORIGINS). */
export const client = hc<AppType>(location.origin).api.v1;

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** Seconds to wait before retrying, from the Retry-After header of a 429. */
    readonly retryAfterSeconds?: number,
    /** The envelope's `error.details`, when the server sent some. */
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type ErrorEnvelope = { status: "error"; error: { code: string; message: string; details?: unknown } };

/** An answer of the typed client: its JSON is the success envelope, unless the server refused. */
type Answer<T> = { status: number; headers: Headers; json(): Promise<{ status: "ok"; data: T }> };

/** The `data` of the answer, or an ApiError with the server's code. */
export async function call<T>(request: Promise<Answer<T>>): Promise<T> {
  const response = await request;
  const envelope = (await response.json().catch(() => null)) as { status: "ok"; data: T } | ErrorEnvelope | null;
  if (envelope?.status === "ok") return envelope.data;
  const retryAfter = Number(response.headers.get("retry-after")) || undefined;
  throw new ApiError(
    envelope?.error.code ?? "HTTP_ERROR",
    envelope?.error.message ?? `The server answered ${response.status}`,
    response.status,
    retryAfter,
    envelope?.error.details,
  );
}

/** The session token as the client's request option. */
export const withToken = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
