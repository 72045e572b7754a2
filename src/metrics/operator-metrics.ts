import { ANALYTICS_REQUEST_EVENT } from "../observability/analytics";
import { querySql, type SqlApi, type SqlRow } from "./analytics-sql";
import { Exposition, type HistogramSeries, type Sample } from "./exposition";

/**
 * Prometheus metrics computed from the Analytics Engine dataset the Worker writes
 * (src/observability/analytics.ts has the layout): a request lands on one of many isolates, so
 * only the dataset sees them all. Every value covers the last `windowSeconds` and is computed
 * afresh on each scrape (docs/observability.md: use the values as they are, not with rate()).
 * Sums are weighted by `_sample_interval`, so sampled data points still count what happened.
 */

/** Upper bounds of the duration histogram, in seconds (Prometheus client defaults). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export type MetricsQuery = { dataset: string; windowSeconds: number };

const since = (windowSeconds: number) => `timestamp > NOW() - INTERVAL '${windowSeconds}' SECOND`;

/** Requests by "METHOD /route/pattern" (blob4) and status (blob3), with duration buckets (double2, ms). */
export function requestsSql({ dataset, windowSeconds }: MetricsQuery): string {
  const buckets = DURATION_BUCKETS.map((bound, i) => `sumIf(_sample_interval, double2 <= ${bound * 1000}) AS le${i}`);
  return [
    "SELECT blob4 AS route, blob3 AS status, SUM(_sample_interval) AS requests,",
    `SUM(_sample_interval * double2) AS duration_ms, ${buckets.join(", ")}`,
    `FROM ${dataset}`,
    `WHERE blob1 = '${ANALYTICS_REQUEST_EVENT}' AND ${since(windowSeconds)}`,
    "GROUP BY route, status",
    "FORMAT JSON",
  ].join("\n");
}

/** Security events by type (blob1), outcome (blob2) and reason (blob3). */
export function eventsSql({ dataset, windowSeconds }: MetricsQuery): string {
  return [
    "SELECT blob1 AS event, blob2 AS outcome, blob3 AS reason, SUM(_sample_interval) AS events",
    `FROM ${dataset}`,
    `WHERE blob1 != '${ANALYTICS_REQUEST_EVENT}' AND ${since(windowSeconds)}`,
    "GROUP BY event, outcome, reason",
    "FORMAT JSON",
  ].join("\n");
}

type Cell = SqlRow[string] | undefined;
const num = (value: Cell) => (typeof value === "number" && Number.isFinite(value) ? value : 0);
// Blobs that look like numbers (a status "200") come back as numbers.
const str = (value: Cell) => (typeof value === "string" ? value : typeof value === "number" ? String(value) : "");

/**
 * A reason as a label: its code before any detail ("counter_not_increasing:5->3" and
 * "verification_error:<library text>" become their codes), so label values stay few and never
 * carry text a client could choose.
 */
export const reasonLabel = (reason: string) => /^[a-z][a-z0-9_]{0,63}/.exec(reason)?.[0] ?? "other";

/** Adds `value` to the sample with these labels (rows that normalise to the same labels merge). */
class Tally {
  private readonly samples = new Map<string, Sample>();

  add(labels: Record<string, string>, value: number) {
    const key = JSON.stringify(labels);
    const sample = this.samples.get(key);
    if (sample) sample.value += value;
    else this.samples.set(key, { labels, value });
  }

  list(): Sample[] {
    return [...this.samples.values()].sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
  }
}

function splitRoute(route: string) {
  const space = route.indexOf(" ");
  return space < 0 ? { method: "OTHER", route } : { method: route.slice(0, space), route: route.slice(space + 1) };
}

export async function operatorMetrics(api: SqlApi, query: MetricsQuery): Promise<string> {
  const [requestRows, eventRows] = await Promise.all([
    querySql(api, requestsSql(query)),
    querySql(api, eventsSql(query)),
  ]);
  const window = `in the last ${query.windowSeconds} s`;

  const requests = new Tally();
  const durations = new Map<string, HistogramSeries>();
  for (const row of requestRows) {
    const { method, route } = splitRoute(str(row.route));
    const status = Number(str(row.status));
    const statusClass = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "other";
    requests.add({ method, route, status_class: statusClass }, num(row.requests));
    const key = `${method} ${route}`;
    const series = durations.get(key) ?? {
      labels: { method, route },
      buckets: DURATION_BUCKETS.map(() => 0),
      count: 0,
      sum: 0,
    };
    DURATION_BUCKETS.forEach((_, i) => {
      series.buckets[i] = (series.buckets[i] ?? 0) + num(row[`le${i}`]);
    });
    series.count += num(row.requests);
    series.sum += num(row.duration_ms) / 1000;
    durations.set(key, series);
  }

  const registrations = new Tally();
  const authentications = new Tally();
  const authenticationFailures = new Tally();
  const rateLimitHits = new Tally();
  const securityEvents = new Tally();
  for (const outcome of ["success", "failure"]) {
    registrations.add({ outcome }, 0);
    authentications.add({ outcome }, 0);
  }
  for (const row of eventRows) {
    const event = str(row.event);
    const outcome = str(row.outcome) === "success" ? "success" : "failure";
    const count = num(row.events);
    securityEvents.add({ type: event, outcome }, count);
    if (event === "registration_attempt") registrations.add({ outcome }, count);
    if (event === "authentication_attempt") {
      authentications.add({ outcome }, count);
      if (outcome === "failure") authenticationFailures.add({ reason: reasonLabel(str(row.reason)) }, count);
    }
    if (event === "rate_limited") rateLimitHits.add({ group: reasonLabel(str(row.reason)) }, count);
  }

  return new Exposition()
    .gauge("metrics_window_seconds", "The window every other value here covers, in seconds.", [
      { labels: {}, value: query.windowSeconds },
    ])
    .gauge(
      "http_requests_total",
      `HTTP requests answered ${window}, by route pattern and status class.`,
      requests.list(),
    )
    .histogram(
      "http_request_duration_seconds",
      `Time to answer HTTP requests ${window}, by route pattern.`,
      DURATION_BUCKETS,
      [...durations.values()].sort((a, b) => `${a.labels.route}`.localeCompare(`${b.labels.route}`)),
    )
    .gauge("registrations_total", `Passkey registrations (verify step) ${window}, by outcome.`, registrations.list())
    .gauge("authentications_total", `Passkey sign-ins (verify step) ${window}, by outcome.`, authentications.list())
    .gauge(
      "authentication_failures_total",
      `Failed sign-ins ${window}, by reason (the security log's reason code).`,
      authenticationFailures.list(),
    )
    .gauge(
      "rate_limit_hits_total",
      `Requests refused by the rate limiter ${window}, by limit group.`,
      rateLimitHits.list(),
    )
    .gauge("security_events_total", `Security events ${window}, by type and outcome.`, securityEvents.list())
    .toString();
}
