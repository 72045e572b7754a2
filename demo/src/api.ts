// A small client for the passkey server's JSON API. Every answer comes in one envelope:
// {"status":"ok","data":…} or {"status":"error","error":{"code","message"}}; this returns
// `data` or throws an ApiError carrying the error code.

/** Same origin as the demo; from another origin use the server's URL (and list yours in CORS_ORIGINS). */
const API_BASE = "/api/v1";

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

type Envelope<T> =
  | { status: "ok"; data: T }
  | { status: "error"; error: { code: string; message: string; details?: unknown } };

export async function api<T>(
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  { body, token }: { body?: unknown; token?: string } = {},
): Promise<T> {
  const headers = new Headers();
  if (body !== undefined) headers.set("content-type", "application/json");
  if (token) headers.set("authorization", `Bearer ${token}`);
  const response = await fetch(`${API_BASE}${path}`, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
  });
  const envelope = (await response.json().catch(() => null)) as Envelope<T> | null;
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
