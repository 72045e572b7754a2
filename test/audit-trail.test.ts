import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { api, assertion, bearer, ORIGIN, registrationOptions, signUp } from "./support/api";
import { captureLogLines } from "./support/log-lines";
import { addPasskey, admin } from "./support/management";
import { freshIPv4, testWorker } from "./support/test-worker";

/**
 * The ANALYTICS binding here is Miniflare's own Analytics Engine binding (vitest.config.ts).
 * Locally it accepts data points and keeps none, so the tests watch what the Worker hands
 * it: a pass-through spy on the real binding's writeDataPoint.
 */
const dataset = (env as unknown as { ANALYTICS: AnalyticsEngineDataset }).ANALYTICS;

let points: AnalyticsEngineDataPoint[] = [];
let lines: string[] = [];
beforeEach(() => {
  points = [];
  const original = dataset.writeDataPoint.bind(dataset);
  vi.spyOn(dataset, "writeDataPoint").mockImplementation((point) => {
    if (point) points.push(point);
    original(point);
  });
  lines = captureLogLines();
});
afterEach(() => vi.restoreAllMocks());

const ofType = (type: string) => points.filter((p) => p.indexes?.[0] === type);

describe("Analytics Engine data points", () => {
  it("writes one per request: type, outcome, status, route pattern, count, duration", async () => {
    await api("GET", "/api/v1/health");
    await api("POST", "/api/v1/authentication/verify", {});
    await api("GET", "/api/v1/no-such-route/some-id-a-caller-put-here");

    const requests = ofType("request");
    expect(requests).toHaveLength(3);
    expect(requests[0]).toMatchObject({
      indexes: ["request"],
      blobs: ["request", "success", "200", "GET /api/v1/health"],
    });
    expect(requests[1]?.blobs).toEqual(["request", "failure", "400", "POST /api/v1/authentication/verify"]);
    expect(requests[1]?.doubles?.[0]).toBe(1);
    expect(requests[1]?.doubles?.[1]).toBeGreaterThanOrEqual(0);
    expect(requests[1]?.doubles?.[2]).toBe(400);
    expect(requests[2]?.blobs?.slice(0, 3)).toEqual(["request", "failure", "404"]);
    expect(JSON.stringify(requests[2])).not.toContain("some-id-a-caller-put-here");
  });

  it("writes one per security event: registrations, authentications and failures with their reason", async () => {
    const user = await signUp();
    const good = await assertion(user.authenticator, user.username);
    await api("POST", "/api/v1/authentication/verify", { credential: good });
    const bad = await assertion(user.authenticator, user.username, { corruptSignature: true });
    await api("POST", "/api/v1/authentication/verify", { credential: bad });

    expect(ofType("registration_attempt").map((p) => p.blobs?.slice(0, 2))).toEqual([
      ["registration_attempt", "success"],
    ]);
    expect(ofType("authentication_attempt").map((p) => p.blobs?.slice(0, 3))).toEqual([
      ["authentication_attempt", "success", ""],
      ["authentication_attempt", "failure", "signature_invalid"],
    ]);
    for (const point of ofType("authentication_attempt")) expect(point.doubles).toEqual([1, 0, 0]);

    // Counting data only: no user handle, username or credential material.
    const all = JSON.stringify(points);
    for (const secret of [user.userId, user.username, user.passkeyId, user.authenticator.credentialIdBase64URL]) {
      expect(all).not.toContain(secret);
    }
  });

  it("counts passkeys added at sign-up and to an account, and removed", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    await api("DELETE", `/api/v1/credentials/${second.passkeyId}`, undefined, bearer(user.token));
    expect(ofType("credential_added").map((p) => p.blobs?.slice(0, 3))).toEqual([
      ["credential_added", "success", "account_created"],
      ["credential_added", "success", "added_to_account"],
    ]);
    expect(ofType("credential_removed").map((p) => p.blobs?.slice(0, 3))).toEqual([
      ["credential_removed", "success", "owner_removed"],
    ]);
  });

  it("counts a refused registration once, with its reason", async () => {
    const user = await signUp();
    const options = await registrationOptions({ username: user.username }, bearer(user.token));
    // The account is disabled between the options and the verify step.
    await api("PATCH", `/api/v1/admin/users/${user.userId}`, { active: false }, admin);
    const credential = await (await SoftAuthenticator.create()).register(options.body.data, { origin: ORIGIN });
    expect((await api("POST", "/api/v1/registration/verify", { credential })).status).toBe(400);
    expect(ofType("registration_attempt").map((p) => p.blobs?.slice(0, 3))).toEqual([
      ["registration_attempt", "success", ""],
      ["registration_attempt", "failure", "account_gone"],
    ]);
  });

  it("counts rate-limit hits, without the client's address", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "1" } });
    const ip = freshIPv4();
    await worker.at(ip).api("POST", "/api/v1/authentication/challenge", {});
    await worker.at(ip).api("POST", "/api/v1/authentication/challenge", {});

    expect(ofType("rate_limited")).toEqual([
      { indexes: ["rate_limited"], blobs: ["rate_limited", "failure", "options", ""], doubles: [1, 0, 0] },
    ]);
    expect(ofType("request").map((p) => p.blobs?.[2])).toEqual(["200", "429"]);
    expect(JSON.stringify(points)).not.toContain(ip);
  });

  it("keeps every data point within Analytics Engine's limits", async () => {
    const user = await signUp();
    await api("POST", "/api/v1/authentication/verify", {
      credential: await assertion(user.authenticator, user.username),
    });
    await api("PUT", `/api/v1/${"x".repeat(5000)}`);
    expect(points.length).toBeGreaterThan(4);
    const bytes = (value: ArrayBuffer | string | null) =>
      typeof value === "string" ? new TextEncoder().encode(value).length : (value?.byteLength ?? 0);
    for (const point of points) {
      expect(point.indexes?.length).toBe(1);
      expect(bytes(point.indexes?.[0] ?? null)).toBeLessThanOrEqual(96);
      expect(point.blobs?.length ?? 0).toBeLessThanOrEqual(20);
      expect(point.doubles?.length ?? 0).toBeLessThanOrEqual(20);
      expect((point.blobs ?? []).reduce((sum, blob) => sum + bytes(blob), 0)).toBeLessThanOrEqual(16 * 1024);
    }
  });
});

describe("without Analytics Engine", () => {
  it("serves and signs in the same when no ANALYTICS binding is configured", async () => {
    const user = await signUp();
    const worker = testWorker({ env: { ANALYTICS: undefined } });
    expect((await worker.api("GET", "/api/v1/health")).status).toBe(200);
    const options = await worker.api("POST", "/api/v1/authentication/challenge", { username: user.username });
    const credential = await user.authenticator.assert(options.body.data, { origin: "http://localhost:8787" });
    const verified = await worker.api("POST", "/api/v1/authentication/verify", { credential });
    expect(verified.status).toBe(200);
    expect(points.filter((p) => p.blobs?.[1] === "success" && p.indexes?.[0] === "authentication_attempt")).toEqual([]);
    // The JSON log still has the audit trail.
    expect(lines.map((l) => JSON.parse(l))).toContainEqual(
      expect.objectContaining({ type: "security_event", event: "authentication_attempt", outcome: "success" }),
    );
  });

  it("never fails a request because a data point could not be written", async () => {
    const failing: AnalyticsEngineDataset = {
      writeDataPoint() {
        throw new Error("dataset unavailable");
      },
    };
    const worker = testWorker({ env: { ANALYTICS: failing } });
    const response = await worker.api("POST", "/api/v1/authentication/challenge", {});
    expect(response.status).toBe(200);
    expect(lines.map((l) => JSON.parse(l))).toContainEqual(
      expect.objectContaining({ type: "analytics_write_failed", level: "warn" }),
    );
  });
});
