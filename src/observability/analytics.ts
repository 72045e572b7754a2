import type { Logger } from "./logger";
import type { SecurityEvent } from "./security-events";

/**
 * Data point layout in the Analytics Engine dataset (docs/security.md "Audit trail and
 * metrics" has the SQL). Positions never change meaning: queries written against them keep
 * working as the service grows.
 *
 * - index1  event type: "request" or a security event type (the sampling key)
 * - blob1   event type again (indexes cannot be selected, blobs can)
 * - blob2   outcome: "success" | "failure" (requests: status below 400 or not)
 * - blob3   reason: a security event's reason code; a request's HTTP status
 * - blob4   requests: method and route pattern ("POST /api/v1/authentication/verify")
 * - double1 1, so SUM(_sample_interval * double1) counts events
 * - double2 requests: duration in milliseconds
 * - double3 requests: HTTP status
 *
 * No user ids, addresses, usernames or credential material go here: the dataset is for
 * counting, the JSON log is the audit trail.
 */
export const ANALYTICS_REQUEST_EVENT = "request";

export type RequestMetric = { method: string; route: string; status: number; durationMs: number };

export type Metrics = {
  securityEvent(event: SecurityEvent): void;
  request(metric: RequestMetric): void;
};

type OptionalBindings = { ANALYTICS?: AnalyticsEngineDataset };

/** The optional `ANALYTICS` binding (commented out in wrangler.toml); undefined when not configured. */
export function analyticsDataset(env: Env): AnalyticsEngineDataset | undefined {
  const dataset = (env as Env & OptionalBindings).ANALYTICS;
  return typeof dataset?.writeDataPoint === "function" ? dataset : undefined;
}

// Analytics Engine caps a blob at a few KiB and the request's route comes from our own route
// table, but reasons can carry library text: keep every blob short.
const MAX_BLOB_CHARS = 96;
const blob = (value: string) => value.slice(0, MAX_BLOB_CHARS);
const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export function securityEventPoint(event: SecurityEvent): AnalyticsEngineDataPoint {
  return {
    indexes: [event.event],
    blobs: [event.event, event.outcome, blob(event.reason ?? ""), ""],
    doubles: [1, 0, 0],
  };
}

export function requestPoint(metric: RequestMetric): AnalyticsEngineDataPoint {
  const method = knownMethods.has(metric.method) ? metric.method : "OTHER";
  return {
    indexes: [ANALYTICS_REQUEST_EVENT],
    blobs: [
      ANALYTICS_REQUEST_EVENT,
      metric.status < 400 ? "success" : "failure",
      String(metric.status),
      blob(`${method} ${metric.route}`),
    ],
    doubles: [1, metric.durationMs, metric.status],
  };
}

/**
 * Writes data points when a dataset is bound, and nothing otherwise. `writeDataPoint` does
 * not wait for the network; a throw (e.g. a malformed point) is logged and never fails the
 * request being counted.
 */
export function analyticsMetrics(dataset: AnalyticsEngineDataset | undefined, logger: Logger): Metrics {
  const write = (point: AnalyticsEngineDataPoint) => {
    if (!dataset) return;
    try {
      dataset.writeDataPoint(point);
    } catch (error) {
      logger.log("warn", { type: "analytics_write_failed", error: error instanceof Error ? error.name : "error" });
    }
  };
  return {
    securityEvent: (event) => write(securityEventPoint(event)),
    request: (metric) => write(requestPoint(metric)),
  };
}
