import { createMiddleware } from "hono/factory";
import { CeremonyFailure, noRoute } from "../errors";
import type { AppEnv } from "../http/app-env";

type NativeErrorBody = { status: "error"; error: { code: string; message: string; details?: unknown } };

const isNativeError = (body: unknown): body is NativeErrorBody =>
  typeof body === "object" && body !== null && (body as { status?: unknown }).status === "error";

/**
 * Gate and envelope of the FIDO conformance binding. Off (CONFORMANCE_API is not "true"),
 * its paths do not exist. On, every failure on them — from the routes or from the middleware
 * before them (rate limit, body limit, content type) — is answered in the binding's shape,
 * `{"status":"failed","errorMessage":…}`, with the HTTP status the native API would use.
 *
 * The message names the check that failed: this is a test surface, and the conformance tools
 * show it to the person running them.
 */
export const conformanceSurface = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.get("config").conformanceApi) {
    throw noRoute(c.req.method, c.req.path);
  }
  await next();
  if (c.res.status < 400) return;
  const body: unknown = await c.res
    .clone()
    .json()
    .catch(() => null);
  if (!isNativeError(body)) return;
  c.res = c.json({ status: "failed", errorMessage: errorMessageOf(body, c.error) }, c.res.status as 400);
});

function errorMessageOf(body: NativeErrorBody, error: Error | undefined): string {
  if (error instanceof CeremonyFailure) return `${error.message}: ${error.reason}`;
  const { message, details } = body.error;
  if (Array.isArray(details) && details.length > 0) {
    const issues = details.map((issue: { path?: string; message?: string }) =>
      issue.path ? `${issue.path}: ${issue.message}` : String(issue.message),
    );
    return `${message}: ${issues.join("; ")}`;
  }
  return message || body.error.code;
}
