import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/app-env";
import { createServices } from "../services";

/**
 * The request's services (src/services.ts), for every route. The limiter's verdict is looked up
 * when asked for, since the limiter is applied later, at the routes it governs.
 */
export const services = createMiddleware<AppEnv>(async (c, next) => {
  c.set(
    "ports",
    createServices(
      c.env,
      // Looked up only when needed: a bare app.request (a script) has no execution context.
      { waitUntil: (promise) => c.executionCtx.waitUntil(promise) },
      {
        config: c.get("config"),
        keys: c.get("keys"),
        logger: c.get("logger"),
        metrics: c.get("metrics"),
        requestId: c.get("requestId"),
        admission: () => (c.get("admission") ?? alreadyAdmitted)(),
        defer: c.get("defer"),
      },
    ),
  );
  await next();
});

/** Routes without a limiter (the health check, /.well-known) are admitted as they are. */
const alreadyAdmitted = () => Promise.resolve();
