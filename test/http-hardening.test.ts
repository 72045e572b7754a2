import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_METADATA_BODY_BYTES, nestsDeeperThan } from "../src/middleware/json-body";
import { api, ORIGIN } from "./support/api";
import { admin } from "./support/management";
import { freshIPv4, testWorker } from "./support/test-worker";

/** Raw fetch, for requests api() cannot make (streams, lying lengths). */
async function raw(path: string, init: RequestInit & { duplex?: "half" }) {
  const response = await testWorker().fetch(new Request(`http://localhost:8787${path}`, init));
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

function expectSecurityHeaders(headers: Headers, hstsMaxAge = 31536000) {
  expect(headers.get("Strict-Transport-Security")).toBe(`max-age=${hstsMaxAge}; includeSubDomains`);
  expect(headers.get("X-Content-Type-Options")).toBe("nosniff");
  expect(headers.get("X-Frame-Options")).toBe("DENY");
  const csp = headers.get("Content-Security-Policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(headers.get("Referrer-Policy")).toBe("no-referrer");
  expect(headers.get("X-Request-Id")).toMatch(/^[\w\-=]+$/);
}

const oversizeJson = () => JSON.stringify({ username: "x".repeat(MAX_BODY_BYTES + 10) });

describe("security headers", () => {
  it("are on successes, client errors, 404s and rate-limit refusals alike", async () => {
    expectSecurityHeaders((await api("GET", "/api/v1/health")).headers);
    expectSecurityHeaders((await api("POST", "/api/v1/authentication/challenge", {})).headers);
    expectSecurityHeaders((await api("POST", "/api/v1/authentication/challenge", { nope: 1 })).headers);
    expectSecurityHeaders((await api("GET", "/api/v1/no-such-route")).headers);
    expectSecurityHeaders((await api("GET", "/no-such-page")).headers);
    expectSecurityHeaders((await api("GET", "/.well-known/jwks.json")).headers);

    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "1" } });
    const ip = freshIPv4();
    await worker.at(ip).api("POST", "/api/v1/authentication/challenge", {});
    const limited = await worker.at(ip).api("POST", "/api/v1/authentication/challenge", {});
    expect(limited.status).toBe(429);
    expectSecurityHeaders(limited.headers);
  });

  it("take HSTS max-age from HSTS_MAX_AGE", async () => {
    const worker = testWorker({ env: { HSTS_MAX_AGE: "600" } });
    expectSecurityHeaders((await worker.api("GET", "/api/v1/health")).headers, 600);
  });

  it("are on a configuration error too, without guessing an HSTS max-age", async () => {
    const worker = testWorker({ env: { HSTS_MAX_AGE: "-1" } });
    const response = await worker.api("GET", "/api/v1/health");
    expect(response.status).toBe(500);
    expect(response.body.error.code).toBe("CONFIGURATION_ERROR");
    expect(response.headers.get("Strict-Transport-Security")).toBeNull();
    expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(response.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(response.headers.get("X-Request-Id")).toBeTruthy();
  });
});

describe("CORS", () => {
  it("gives a listed origin Access-Control-Allow-Origin, never with credentials", async () => {
    const response = await api("POST", "/api/v1/authentication/challenge", {}, { origin: ORIGIN });
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(ORIGIN);
    expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    expect(response.headers.get("Vary")).toContain("Origin");
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("X-Request-Id");
  });

  it("gives every origin of a multi-origin CORS_ORIGINS its own echo", async () => {
    const worker = testWorker({ env: { CORS_ORIGINS: "https://app.example.com, https://admin.example.com" } });
    for (const origin of ["https://app.example.com", "https://admin.example.com"]) {
      const response = await worker.api("GET", "/api/v1/health", undefined, { origin });
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe(origin);
    }
    const unlisted = await worker.api("GET", "/api/v1/health", undefined, { origin: ORIGIN });
    expect(unlisted.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it.each(["https://evil.example", "http://localhost:8787.evil.example", "null", "HTTP://LOCALHOST:8787"])(
    "gives the unlisted origin %s no Access-Control-Allow-Origin",
    async (origin) => {
      const response = await api("POST", "/api/v1/authentication/challenge", {}, { origin });
      expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
      expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    },
  );

  it("answers a preflight from a listed origin with methods, headers and a cacheable Max-Age", async () => {
    const response = await raw("/api/v1/authentication/verify", {
      method: "OPTIONS",
      headers: {
        origin: ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(ORIGIN);
    expect(response.headers.get("Access-Control-Allow-Methods")).toContain("POST");
    expect(response.headers.get("Access-Control-Allow-Headers")).toBe("Content-Type,Authorization");
    expect(response.headers.get("Access-Control-Max-Age")).toBe("600");
    expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    expectSecurityHeaders(response.headers);
  });

  it("answers a preflight from an unlisted origin without Access-Control-Allow-Origin", async () => {
    const response = await raw("/api/v1/authentication/verify", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});

describe("request bodies", () => {
  const path = "/api/v1/registration/challenge";

  it("refuses an oversize body declared by Content-Length with 413 PAYLOAD_TOO_LARGE", async () => {
    const response = await raw(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: oversizeJson(),
    });
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ status: "error", error: { code: "PAYLOAD_TOO_LARGE" } });
    expectSecurityHeaders(response.headers);
  });

  it("refuses an oversize body sent chunked, without a Content-Length", async () => {
    const bytes = new TextEncoder().encode(oversizeJson());
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < bytes.length; offset += 4096)
          controller.enqueue(bytes.slice(offset, offset + 4096));
        controller.close();
      },
    });
    const request = new Request(`http://localhost:8787${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(request.headers.get("content-length")).toBeNull();
    const response = await testWorker().fetch(request);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("refuses an oversize body whose Content-Length understates it", async () => {
    const response = await raw(path, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": "20" },
      body: oversizeJson(),
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("still reads a body just under the limit (and validates it)", async () => {
    const body = JSON.stringify({ username: "x".repeat(MAX_BODY_BYTES - 100) });
    const response = await raw(path, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
  });

  it.each([
    ["text/plain", "text/plain"],
    ["form data", "application/x-www-form-urlencoded"],
    ["a look-alike type", "application/jsonp"],
    ["no type at all", undefined],
  ])("refuses a POST with %s as 415 UNSUPPORTED_MEDIA_TYPE", async (_name, type) => {
    const headers: Record<string, string> = type === undefined ? {} : { "content-type": type };
    const response = await raw(path, { method: "POST", headers, body: '{"username":"alice"}' });
    expect(response.status).toBe(415);
    expect(response.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it.each([
    ["a PUT (the admin API's metadata load, with the admin key)", "PUT", "/api/v1/admin/metadata", admin],
    ["a PATCH", "PATCH", "/api/v1/credentials/some-passkey-id", {}],
    ["a DELETE that carries a body", "DELETE", "/api/v1/me", {}],
  ])("refuses %s with a non-JSON body as 415 UNSUPPORTED_MEDIA_TYPE", async (_name, method, target, headers) => {
    const response = await raw(target, {
      method,
      headers: { ...headers, "content-type": "text/plain" },
      body: '{"blob":"a.b.c"}',
    });
    expect(response.status).toBe(415);
    expect(response.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("does not ask a DELETE without a body for a Content-Type", async () => {
    const response = await raw("/api/v1/me", { method: "DELETE" });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("UNAUTHORIZED");
  });

  it("reads a larger body only on a route that declares its own cap (the metadata load)", async () => {
    // Over the default cap, far under the metadata load's: a validation error there, 413 elsewhere.
    const body = JSON.stringify({ blob: "x".repeat(MAX_BODY_BYTES * 2) });
    const headers = { ...admin, "content-type": "application/json" };
    const metadata = await raw("/api/v1/admin/metadata", { method: "PUT", headers, body });
    expect(metadata.status).toBe(400);
    expect(metadata.body.error.code).toBe("VALIDATION_ERROR");

    const elsewhere = await raw("/api/v1/admin/users/00000000-0000-4000-8000-000000000000", {
      method: "PATCH",
      headers,
      body,
    });
    expect(elsewhere.status).toBe(413);
    expect(elsewhere.body.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("holds the metadata load to its own cap too", async () => {
    const response = await raw("/api/v1/admin/metadata", {
      method: "PUT",
      headers: { ...admin, "content-type": "application/json", "content-length": String(MAX_METADATA_BODY_BYTES + 1) },
      body: '{"blob":"a.b.c"}',
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("checks the admin key before it reads a metadata load's body", async () => {
    // A body that never ends: reading it first would never answer. (When the request is over,
    // workerd reports the body still being sent as "kj/async-io.c++: disconnected: read end of
    // pipe was aborted": expected, docs/troubleshooting.md.)
    const endless = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"blob":"'));
      },
    });
    const request = new Request("http://localhost:8787/api/v1/admin/metadata", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: endless,
      duplex: "half",
    } as RequestInit);
    const response = await testWorker().fetch(request);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
  });

  it("accepts JSON with a charset parameter", async () => {
    const response = await raw("/api/v1/authentication/challenge", {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: "{}",
    });
    expect(response.status).toBe(200);
  });

  it("refuses a body nested deeper than MAX_JSON_DEPTH with 400 INVALID_REQUEST, and reads one at the cap", async () => {
    // Nested in a field the schema refuses anyway: the depth check must answer first.
    const nested = (levels: number) =>
      `{"username":"a","extensions":${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}}`;
    const post = (body: string) =>
      raw("/api/v1/authentication/challenge", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    const atCap = await post(nested(MAX_JSON_DEPTH));
    expect(atCap.body.error.code).toBe("VALIDATION_ERROR");
    const beyond = await post(nested(MAX_JSON_DEPTH + 1));
    expect(beyond.status).toBe(400);
    expect(beyond.body.error.code).toBe("INVALID_REQUEST");
  });

  it.each([
    ["brackets inside strings", `{"a":"${"[".repeat(50)}"}`, false],
    ["an escaped quote that does not end the string", `{"a":"\\"${"[".repeat(50)}"}`, false],
    ["an escaped backslash before the closing quote", `{"a":"\\\\","b":${"[".repeat(40)}}`, true],
    ["siblings, each shallow", `[${"[[]],".repeat(100)}[]]`, false],
  ])("counts nesting without parsing: %s", (_name, text, deep) => {
    expect(nestsDeeperThan(text, 32)).toBe(deep);
  });
});

describe("request ids", () => {
  let lines: string[] = [];
  beforeEach(() => {
    lines = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it("puts a fresh X-Request-Id on every response, matching the request's log line", async () => {
    const responses = [
      await api("GET", "/api/v1/health"),
      await api("POST", "/api/v1/authentication/challenge", {}),
      await api("POST", "/api/v1/authentication/verify", {}),
      await api("GET", "/api/v1/no-such-route"),
      await api("DELETE", "/api/v1/health"),
      await raw("/api/v1/registration/challenge", { method: "POST", body: "x" }),
    ];
    const ids = responses.map((r) => r.headers.get("X-Request-Id"));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 400, 404, 405, 415]);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(ids.length);
    const logged = lines.map((l) => JSON.parse(l)).filter((r) => r.type === "request");
    expect(logged.map((r) => r.requestId)).toEqual(ids);
  });

  it("never adopts a caller's id (it could collide with another request's in the audit trail)", async () => {
    const first = await api("GET", "/api/v1/health");
    const victim = first.headers.get("X-Request-Id") ?? "";
    const replay = await api("GET", "/api/v1/health", undefined, { "x-request-id": victim });
    expect(replay.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(replay.headers.get("X-Request-Id")).not.toBe(victim);
  });

  it("logs a well-formed caller id beside ours for correlation, and drops one that could corrupt a log", async () => {
    await api("GET", "/api/v1/health", undefined, { "x-request-id": "client-trace-42" });
    await api("GET", "/api/v1/health", undefined, { "x-request-id": 'a","level":"error' });
    const logged = lines.map((l) => JSON.parse(l)).filter((r) => r.type === "request");
    expect(logged.map((r) => r.clientRequestId)).toEqual(["client-trace-42", undefined]);
    for (const line of logged) expect(line.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
