import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/app-env";
import { errorChain } from "../observability/error-chain";

/**
 * Work the answer need not wait for (recording when a passkey was last used): collected while
 * the request runs and started with `waitUntil` once the response is built, so it never adds
 * a wait to the request. Nothing a rule depends on may be deferred: a failure here is logged
 * (a `background_fault` named `what`, docs/errors-and-faults.md) and otherwise lost.
 */
export const deferredWork = createMiddleware<AppEnv>(async (c, next) => {
  const tasks: { what: string; task: () => Promise<unknown> }[] = [];
  c.set("defer", (what, task) => {
    tasks.push({ what, task });
  });
  await next();
  for (const { what, task } of tasks) {
    const running = Promise.resolve()
      .then(task)
      .catch((error: unknown) => {
        c.get("logger")?.log("warn", {
          type: "background_fault",
          requestId: c.get("requestId"),
          what,
          error: errorChain(error),
        });
      });
    try {
      c.executionCtx.waitUntil(running);
    } catch {
      // No execution context (a bare app.request in a script): the task runs unattended.
    }
  }
});
