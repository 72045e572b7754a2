import { afterEach, describe, expect, it, vi } from "vitest";
import dashboard from "../docs/grafana-dashboard.json";
import { DURATION_BUCKETS } from "../src/metrics/operator-metrics";
import { api } from "./support/api";
import { admin } from "./support/management";
import { testWorker } from "./support/test-worker";

afterEach(() => vi.restoreAllMocks());

const ACCOUNT_ID = "0123456789abcdef0123456789abcdef";
const TOKEN = "analytics-token-for-tests-only";
const SQL_API = `https://api.cloudflare.com/client/v4/accounts/${ACCOUNT_ID}/analytics_engine/sql`;

/** GET the metrics endpoint of the real app, run with these variables (and the test's admin key). */
async function scrape(overrides: Record<string, unknown>, query = "", headers: Record<string, string> = admin) {
  return testWorker({ env: overrides }).fetch(
    new Request(`http://localhost:8787/api/v1/admin/metrics${query}`, { headers }),
  );
}

const configured = { CF_ACCOUNT_ID: ACCOUNT_ID, ANALYTICS_API_TOKEN: TOKEN };

/** Answers in the SQL API's documented FORMAT JSON shape ({meta, data, rows}). */
const jsonFormat = (rows: Record<string, string | number>[]) =>
  Response.json({
    meta: Object.keys(rows[0] ?? {}).map((name) => ({ name, type: "String" })),
    data: rows,
    rows: rows.length,
  });

const bucketsFor = (durationsMs: number[], weight = 1) =>
  Object.fromEntries(
    DURATION_BUCKETS.map((bound, i) => [`le${i}`, durationsMs.filter((ms) => ms <= bound * 1000).length * weight]),
  );

// What the dataset holds in this scenario: 3 successful sign-ins (one of 2 ms, two of 40 ms), one
// sampled 1-in-2 failed one (30 ms, so 2 requests), 1 registration (120 ms), and security events.
const requestRows = [
  // 64-bit sums come back as strings from the SQL API: both spellings are read.
  {
    route: "POST /api/v1/authentication/verify",
    status: "200",
    requests: "3",
    duration_ms: 82,
    ...bucketsFor([2, 40, 40]),
  },
  { route: "POST /api/v1/authentication/verify", status: "401", requests: 2, duration_ms: 60, ...bucketsFor([30], 2) },
  { route: "POST /api/v1/registration/verify", status: "201", requests: 1, duration_ms: 120, ...bucketsFor([120]) },
];
const eventRows = [
  { event: "authentication_attempt", outcome: "success", reason: "", events: 3 },
  { event: "authentication_attempt", outcome: "failure", reason: "counter_not_increasing:5->3", events: 1 },
  { event: "authentication_attempt", outcome: "failure", reason: "counter_not_increasing:9->2", events: 1 },
  {
    event: "authentication_attempt",
    outcome: "failure",
    reason: 'verification_error:Unexpected origin "x"',
    events: 2,
  },
  { event: "registration_attempt", outcome: "success", reason: "account_created", events: 1 },
  { event: "rate_limited", outcome: "failure", reason: "verify", events: "4" },
  { event: "clone_suspected", outcome: "failure", reason: "counter_regression", events: 1 },
];

function stubSqlApi(
  answer: (sql: string) => Response = (sql) => jsonFormat(sql.includes("blob4") ? requestRows : eventRows),
) {
  const calls: { url: string; init: RequestInit }[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    calls.push({ url: String(input), init: init ?? {} });
    return answer(String(init?.body));
  });
  return calls;
}

type Family = {
  type: string;
  help: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
};

/**
 * A strict reader of the Prometheus text format (0.0.4): every line is HELP, TYPE or a sample of
 * a family already typed; label values are quoted and escaped; values are numbers or ±Inf/NaN.
 */
function parseExposition(text: string): Map<string, Family> {
  expect(text.endsWith("\n")).toBe(true);
  const families = new Map<string, Family>();
  const familyOf = (name: string) =>
    families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, "")) ?? null;
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (\S+)$/.exec(line);
    if (help) {
      families.set(help[1] as string, { type: "", help: help[2] as string, samples: [] });
    } else if (type) {
      const family = families.get(type[1] as string);
      expect(family, `TYPE before HELP: ${line}`).toBeDefined();
      expect(family?.type, `second TYPE: ${line}`).toBe("");
      (family as Family).type = type[2] as string;
    } else if (sample) {
      const [, name = "", labelText = "", value = ""] = sample;
      const family = familyOf(name);
      expect(family?.type, `sample of an untyped family: ${line}`).toBeTruthy();
      expect(value).toMatch(/^(-?\d+(\.\d+)?(e[+-]?\d+)?|[+-]Inf|NaN)$/);
      const labels = Object.fromEntries(
        [...labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]),
      );
      family?.samples.push({
        name,
        labels: labels as Record<string, string>,
        value: Number(value.replace("Inf", "Infinity")),
      });
    } else {
      throw new Error(`not a Prometheus text format line: ${JSON.stringify(line)}`);
    }
  }
  return families;
}

const sampleValue = (families: Map<string, Family>, name: string, labels: Record<string, string>) =>
  families
    .get(name.replace(/_(bucket|sum|count)$/, ""))
    ?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe("GET /api/v1/admin/metrics", () => {
  it("is an operator's endpoint: no admin key, no metrics (and no SQL API call)", async () => {
    const calls = stubSqlApi();
    const response = await scrape(configured, "", {});
    expect(response.status).toBe(401);
    expect(calls).toEqual([]);
  });

  it("answers 503 naming the secrets to set when the SQL API is not configured", async () => {
    const response = await api("GET", "/api/v1/admin/metrics", undefined, admin);
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe("SERVICE_UNAVAILABLE");
    expect(response.body.error.message).toContain("CF_ACCOUNT_ID");
    expect(response.body.error.message).toContain("ANALYTICS_API_TOKEN");
  });

  it("answers 503 naming the binding when there is no Analytics Engine dataset", async () => {
    const response = await scrape({ ...configured, ANALYTICS: undefined });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toContain("analytics_engine_datasets");
  });

  it("queries the dataset through the SQL API with the token, over the configured window", async () => {
    const calls = stubSqlApi();
    const response = await scrape(configured);
    expect(response.status).toBe(200);
    expect(calls).toHaveLength(2);
    for (const { url, init } of calls) {
      expect(url).toBe(SQL_API);
      expect(init.method).toBe("POST");
      expect(new Headers(init.headers).get("authorization")).toBe(`Bearer ${TOKEN}`);
      const sql = String(init.body);
      expect(sql).toContain("FROM passkey_events");
      expect(sql).toContain("INTERVAL '3600' SECOND");
      expect(sql).toMatch(/FORMAT JSON$/);
      expect(sql).toContain("_sample_interval");
    }
    const windowed = stubSqlApi();
    expect((await scrape({ ...configured, METRICS_WINDOW_SECONDS: "900" }, "?window=600")).status).toBe(200);
    expect(windowed.every(({ init }) => String(init.body).includes("INTERVAL '600' SECOND"))).toBe(true);
    expect((await scrape({ ...configured, ANALYTICS_DATASET: "other_events" })).status).toBe(200);
  });

  it("refuses a window outside one minute to three months", async () => {
    const calls = stubSqlApi();
    for (const window of ["5", "999999999", "soon"]) {
      const response = await scrape(configured, `?window=${window}`);
      expect(response.status).toBe(400);
    }
    expect(calls).toEqual([]);
  });

  it("answers the Prometheus text format with every series, computed from the dataset", async () => {
    stubSqlApi();
    const response = await scrape(configured);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const families = parseExposition(await response.text());

    expect(Object.fromEntries([...families].map(([name, family]) => [name, family.type]))).toEqual({
      metrics_window_seconds: "gauge",
      http_requests_total: "gauge",
      http_request_duration_seconds: "histogram",
      registrations_total: "gauge",
      authentications_total: "gauge",
      authentication_failures_total: "gauge",
      rate_limit_hits_total: "gauge",
      security_events_total: "gauge",
    });
    expect(sampleValue(families, "metrics_window_seconds", {})).toBe(3600);

    const verify = { method: "POST", route: "/api/v1/authentication/verify" };
    expect(sampleValue(families, "http_requests_total", { ...verify, status_class: "2xx" })).toBe(3);
    expect(sampleValue(families, "http_requests_total", { ...verify, status_class: "4xx" })).toBe(2);
    expect(
      sampleValue(families, "http_requests_total", {
        method: "POST",
        route: "/api/v1/registration/verify",
        status_class: "2xx",
      }),
    ).toBe(1);

    // The histogram: per route, statuses together; cumulative buckets, +Inf = count, sum in seconds.
    expect(sampleValue(families, "http_request_duration_seconds_count", verify)).toBe(5);
    expect(sampleValue(families, "http_request_duration_seconds_sum", verify)).toBeCloseTo(0.142);
    expect(sampleValue(families, "http_request_duration_seconds_bucket", { ...verify, le: "0.005" })).toBe(1);
    expect(sampleValue(families, "http_request_duration_seconds_bucket", { ...verify, le: "0.025" })).toBe(1);
    expect(sampleValue(families, "http_request_duration_seconds_bucket", { ...verify, le: "0.05" })).toBe(5);
    expect(sampleValue(families, "http_request_duration_seconds_bucket", { ...verify, le: "+Inf" })).toBe(5);
    const histogram = families.get("http_request_duration_seconds") as Family;
    for (const route of ["/api/v1/authentication/verify", "/api/v1/registration/verify"]) {
      const buckets = histogram.samples.filter((s) => s.name.endsWith("_bucket") && s.labels.route === route);
      expect(buckets.map((b) => b.labels.le)).toEqual([...DURATION_BUCKETS.map(String), "+Inf"]);
      const values = buckets.map((b) => b.value);
      expect(values).toEqual([...values].sort((a, b) => a - b));
      expect(values.at(-1)).toBe(sampleValue(families, "http_request_duration_seconds_count", { route }));
    }

    expect(sampleValue(families, "registrations_total", { outcome: "success" })).toBe(1);
    expect(sampleValue(families, "registrations_total", { outcome: "failure" })).toBe(0);
    expect(sampleValue(families, "authentications_total", { outcome: "success" })).toBe(3);
    expect(sampleValue(families, "authentications_total", { outcome: "failure" })).toBe(4);
    // Reasons are their codes: details (and any client-chosen text) never become label values.
    expect(families.get("authentication_failures_total")?.samples.map((s) => [s.labels.reason, s.value])).toEqual([
      ["counter_not_increasing", 2],
      ["verification_error", 2],
    ]);
    expect(sampleValue(families, "rate_limit_hits_total", { group: "verify" })).toBe(4);
    expect(sampleValue(families, "security_events_total", { type: "clone_suspected", outcome: "failure" })).toBe(1);
    expect(sampleValue(families, "security_events_total", { type: "authentication_attempt", outcome: "failure" })).toBe(
      4,
    );
  });

  it("answers well-formed, empty series for an empty window", async () => {
    stubSqlApi(() => jsonFormat([]));
    const families = parseExposition(await (await scrape(configured)).text());
    expect(families.get("http_requests_total")?.samples).toEqual([]);
    expect(sampleValue(families, "authentications_total", { outcome: "success" })).toBe(0);
  });

  it("answers 503 saying why when the SQL API refuses, and never echoes the token", async () => {
    stubSqlApi(() => new Response("Authorization error", { status: 403 }));
    const response = await scrape(configured);
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(text).toContain("Account Analytics: Read");
    expect(text).not.toContain(TOKEN);

    stubSqlApi(() => new Response("<html>not json</html>", { status: 200 }));
    expect((await scrape(configured)).status).toBe(503);
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("network down"));
    expect((await scrape(configured)).status).toBe(503);
  });

  it("has every series the Grafana dashboard (docs/grafana-dashboard.json) queries", async () => {
    stubSqlApi();
    const families = parseExposition(await (await scrape(configured)).text());
    const served = new Set(
      [...families].flatMap(([name, { type }]) =>
        type === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
      ),
    );
    const queried = dashboard.panels
      .flatMap((panel) => panel.targets.map((target) => target.expr))
      .flatMap((expr) => expr.match(/\b[a-z_]+_(?:total|seconds(?:_bucket|_sum|_count)?)\b/g) ?? []);
    expect(queried.length).toBeGreaterThan(10);
    expect(queried.filter((name) => !served.has(name))).toEqual([]);
  });
});
