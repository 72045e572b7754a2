import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { captureLogLines } from "./support/log-lines";
import { testWorker } from "./support/test-worker";

// The health check is what a load balancer or uptime probe reads: when a dependency every
// ceremony needs is unreachable it must say so with a 503, and name which one.
describe("GET /api/v1/health", () => {
  beforeEach(() => {
    captureLogLines();
  });
  afterEach(() => vi.restoreAllMocks());

  it("answers 200 healthy when D1 and the challenge store both answer", async () => {
    const response = await testWorker().api("GET", "/api/v1/health");
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({
      status: "healthy",
      checks: { database: { status: "pass" }, challengeStore: { status: "pass" } },
    });
  });

  it("answers 503 naming the challenge store when its binding cannot be called", async () => {
    // A challenge store whose every call fails, the way a reset or overloaded object's does.
    // (Another class's namespace fails too, but workerd then prints the callee's "RPC receiver
    // does not implement ping" as an uncaught error in a passing run.)
    const failingStore = {
      idFromName: (name: string) => env.CHALLENGES.idFromName(name),
      get: () => ({ ping: () => Promise.reject(new Error("Durable Object reset because its code was updated")) }),
    };
    const response = await testWorker({ env: { CHALLENGES: failingStore } }).api("GET", "/api/v1/health");
    expect(response.status).toBe(503);
    expect(response.body.error).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      details: {
        status: "unhealthy",
        checks: { database: { status: "pass" }, challengeStore: { status: "fail", error: expect.any(String) } },
      },
    });
  });

  it("answers 503 naming the database when D1 is missing", async () => {
    const response = await testWorker({ env: { DB: undefined } }).api("GET", "/api/v1/health");
    expect(response.status).toBe(503);
    expect(response.body.error.details).toEqual({
      status: "unhealthy",
      checks: { database: { status: "fail", error: "TypeError" }, challengeStore: { status: "pass" } },
    });
  });
});
