import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, assertion, signUp } from "./support/api";
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
});
