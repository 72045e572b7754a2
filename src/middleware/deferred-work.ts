import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/app-env";

/**
 * Work the answer need not wait for (recording when a passkey was last used): collected while
 * the request runs and started with `waitUntil` once the response is built, so it never adds
 * a wait to the request. Nothing a rule depends on may be deferred: a failure here is logged
 * and otherwise lost.
 */
export const deferredWork = createMiddleware<AppEnv>(async (c, next) => {
  const tasks: (() => Promise<unknown>)[] = [];
  c.set("defer", (task) => {
    tasks.push(task);
  });
  await next();
  for (const task of tasks) {
    const running = task().catch((error: unknown) => {
      c.get("logger")?.log("warn", {
        type: "deferred_write_failed",
        requestId: c.get("requestId"),
        error: error instanceof Error ? `${error.name}: ${error.message}` : "non-error thrown",
      });
    });
    try {
      c.executionCtx.waitUntil(running);
    } catch {
      // No execution context (a bare app.request in a script): the task runs unattended.
    }
  }
});
