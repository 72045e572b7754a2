import { Hono } from "hono";
import { z } from "zod";
import { AppError } from "../errors";
import { apiDocs } from "../http/api-docs";
import type { AppEnv } from "../http/app-env";
import { validQuery } from "../http/validate";
import { EXPOSITION_CONTENT_TYPE } from "../metrics/exposition";
import { operatorMetrics } from "../metrics/operator-metrics";
import { analyticsDataset } from "../observability/analytics";

/** Analytics Engine keeps data points for three months. */
const MAX_WINDOW_SECONDS = 92 * 86_400;

const metricsQuery = z.strictObject({
  window: z.coerce.number().int().min(60).max(MAX_WINDOW_SECONDS).optional(),
});

/**
 * Prometheus metrics for operators, behind the admin key (src/middleware/admin-auth.ts):
 * docs/observability.md. Read back from the Analytics Engine dataset through its SQL API.
 */
export const metricsRoutes = new Hono<AppEnv>().get("/", apiDocs.metrics, validQuery(metricsQuery), async (c) => {
  const { metrics } = c.get("config");
  if (!analyticsDataset(c.env)) {
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      "Metrics need the ANALYTICS Analytics Engine binding: uncomment [[analytics_engine_datasets]] in wrangler.toml and deploy",
    );
  }
  if (!metrics.accountId || !metrics.apiToken) {
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      "Metrics need the secrets CF_ACCOUNT_ID and ANALYTICS_API_TOKEN (a token with Account Analytics: Read): wrangler secret put",
    );
  }
  const body = await operatorMetrics(
    { accountId: metrics.accountId, apiToken: metrics.apiToken, fetch: (input, init) => fetch(input, init) },
    { dataset: metrics.dataset, windowSeconds: c.req.valid("query").window ?? metrics.windowSeconds },
  );
  c.header("Cache-Control", "no-store");
  return c.body(body, 200, { "Content-Type": EXPOSITION_CONTENT_TYPE });
});
