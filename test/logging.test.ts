import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, assertion, bearer, signUp } from "./support/api";
import { captureLogLines } from "./support/log-lines";

let lines: string[] = [];

beforeEach(() => {
  lines = captureLogLines();
});
afterEach(() => vi.restoreAllMocks());

const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

describe("logs", () => {
  it("writes one JSON line per request with id, method, path, status and duration", async () => {
    await api("GET", "/api/v1/health");
    const requests = records().filter((r) => r.type === "request");
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "GET", path: "/api/v1/health", status: 200, level: "info" });
    expect(typeof requests[0]?.requestId).toBe("string");
    expect(typeof requests[0]?.durationMs).toBe("number");
  });

  it("records registration and authentication attempts with outcome and reason", async () => {
    const user = await signUp();
    const good = await assertion(user.authenticator, user.username);
    await api("POST", "/api/v1/authentication/verify", { credential: good });
    const bad = await assertion(user.authenticator, user.username, { corruptSignature: true });
    await api("POST", "/api/v1/authentication/verify", { credential: bad });

    const events = records().filter((r) => r.type === "security_event");
    expect(events).toContainEqual(
      expect.objectContaining({ event: "registration_attempt", outcome: "success", userId: user.userId }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ event: "authentication_attempt", outcome: "success", userId: user.userId }),
    );
    const failure = events.find((e) => e.event === "authentication_attempt" && e.outcome === "failure");
    expect(failure?.reason).toBe("signature_invalid");
    expect(failure?.level).toBe("warn");
  });

  it("records an attempt refused before any check too: one event per verify", async () => {
    const notClientData = btoa("hello").replace(/=+$/, "");
    const credential = {
      id: "AAAA",
      rawId: "AAAA",
      type: "public-key",
      response: { clientDataJSON: notClientData, authenticatorData: "AAAA", signature: "AAAA" },
      clientExtensionResults: {},
    };
    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(400);
    const events = records().filter((r) => r.type === "security_event");
    expect(events).toEqual([
      expect.objectContaining({ event: "authentication_attempt", outcome: "failure", reason: "invalid_request" }),
    ]);
  });

  it("never writes tokens, signatures, client data, raw credential ids or secrets", async () => {
    const user = await signUp();
    const credential = await assertion(user.authenticator, user.username);
    const signedIn = await api("POST", "/api/v1/authentication/verify", { credential });
    await api("POST", "/api/v1/authentication/verify", { credential }); // replay: a failure path too
    const forbidden = [
      user.token,
      signedIn.body.data.token,
      credential.response.signature,
      credential.response.clientDataJSON,
      credential.response.authenticatorData,
      user.authenticator.credentialIdBase64URL,
      String(env.CREDENTIAL_ENCRYPTION_KEY).split(":")[1],
      String(env.CREDENTIAL_ID_HMAC_KEY),
      JSON.parse(String(env.SESSION_SIGNING_KEY)).d,
    ];
    const all = lines.join("\n");
    expect(lines.length).toBeGreaterThan(3);
    for (const value of forbidden) {
      expect(value.length).toBeGreaterThan(10);
      expect(all).not.toContain(value);
    }
  });

  it("logs a failed query's cause (D1's message and code), never the statement's values", async () => {
    const user = await signUp();
    // A real failing statement: D1 itself refuses this one rename, as a constraint would.
    const typedName = "Name only its owner typed 7f3a";
    await env.DB.exec(
      `CREATE TRIGGER refuse_marked_rename BEFORE UPDATE OF name ON credentials WHEN NEW.name = '${typedName}' BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`,
    );
    try {
      const response = await api(
        "PATCH",
        `/api/v1/credentials/${user.passkeyId}`,
        { name: typedName },
        bearer(user.token),
      );
      expect(response.status).toBe(500);
      expect(response.body.error.code).toBe("INTERNAL_ERROR");
    } finally {
      await env.DB.exec("DROP TRIGGER refuse_marked_rename");
    }

    const faults = records().filter((r) => r.type === "internal_error");
    expect(faults).toHaveLength(1);
    const logged = faults[0] as { error: { name: string; message: string; code?: string; query?: string }[] };
    // The ORM's wrapper names the statement; below it, D1's own message and SQLite's code.
    expect(logged.error[0]).toMatchObject({ name: "DrizzleQueryError", query: expect.stringContaining("update") });
    const cause = logged.error.slice(1);
    expect(cause.length).toBeGreaterThan(0);
    expect(cause.some((link) => link.message.includes("refused by test trigger"))).toBe(true);
    expect(cause.some((link) => link.code === "SQLITE_CONSTRAINT")).toBe(true);
    // The statement's bound values: the name typed, the account and the passkey it names.
    const line = JSON.stringify(faults[0]);
    for (const value of [typedName, user.userId, user.passkeyId, user.username]) expect(line).not.toContain(value);
    expect(line).not.toContain("params");
  });
});
