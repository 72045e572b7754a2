import { createMiddleware } from "hono/factory";
import { routePath } from "hono/route";
import type { AppEnv } from "../http/app-env";
import { analyticsDataset, analyticsMetrics } from "../observability/analytics";

/**
 * Makes the metrics sink available to later middleware and ceremonies, and counts the request
 * once it is answered. Without an ANALYTICS binding both are no-ops.
 */
export const requestMetrics = createMiddleware<AppEnv>(async (c, next) => {
  const metrics = analyticsMetrics(analyticsDataset(c.env), c.get("logger"));
  c.set("metrics", metrics);
  const started = performance.now();
  await next();
  metrics.request({
    method: c.req.method,
    // The route pattern, not the path: bounded, and free of ids a client put in the URL.
    route: routePath(c, -1),
    status: c.res.status,
    durationMs: Math.round(performance.now() - started),
  });
});
