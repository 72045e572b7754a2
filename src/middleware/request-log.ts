import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/app-env";
import { jsonLogger } from "../observability/logger";

/** A caller's own trace id, kept only when it cannot break out of its JSON field or flood the log. */
const callerRequestId = (value: string | undefined) =>
  value !== undefined && /^[\w\-=]{1,128}$/.test(value) ? value : undefined;

/** One line per request. The query string is left out: it is the caller's, not ours to keep. */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  await next();
  const logger = c.get("logger") ?? jsonLogger("info");
  logger.log("info", {
    type: "request",
    requestId: c.get("requestId"),
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    durationMs: Math.round(performance.now() - started),
    clientRequestId: callerRequestId(c.req.header("x-request-id")),
  });
});
