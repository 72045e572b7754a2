import { describe, expect, it } from "vitest";
import { parseRoundTrips, type RoundTrips } from "../src/observability/storage-round-trips";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { type ApiResponse, ORIGIN, uniqueUsername } from "./support/api";
import { appWithEnv } from "./support/app-with-env";
import { workerWithEnv } from "./support/worker-with-env";

// Storage round trips per endpoint, as counted by BENCH_INSTRUMENTATION (the counts
// `npm run bench` reports). On the edge each one can cost tens of milliseconds, so these
// are budgets: a change that adds one, or makes two calls wait one after the other that
// waited together, fails here. Counts only; times are never asserted.
const instrumented = appWithEnv({ BENCH_INSTRUMENTATION: "true" });
const plain = appWithEnv({ BENCH_INSTRUMENTATION: "false" });
const withToken = workerWithEnv({ BENCH_INSTRUMENTATION: "true" });

function roundTrips(response: ApiResponse): RoundTrips {
  const counts = parseRoundTrips(response.headers.get("server-timing"));
  if (!counts) throw new Error(`no round-trip counts in ${response.status} response`);
  return counts;
}

/** Calls per kind, and how many times the request waited on storage (calls in parallel count once). */
const trips = (limiter: number, challenge: number, reads: number, writes: number, waits: number): RoundTrips => ({
  limiter,
  challenge,
  "d1-read": reads,
  "d1-write": writes,
  waits,
});

async function register(api = instrumented.api) {
  const username = uniqueUsername("trips");
  const authenticator = await SoftAuthenticator.create();
  const options = await api("POST", "/api/v1/registration/challenge", { username, displayName: username });
  expect(options.status).toBe(200);
  const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
  const verified = await api("POST", "/api/v1/registration/verify", { credential });
  expect(verified.status).toBe(201);
  return { username, authenticator, options, verified };
}

describe("storage round trips per endpoint (BENCH_INSTRUMENTATION)", () => {
  it("registration options for a new name: the limiter, one D1 read and the challenge object", async () => {
    const { options } = await register();
    expect(roundTrips(options)).toEqual(trips(1, 1, 1, 0, 3));
  });

  it("registration verify: the limiter, the challenge object and one D1 write (account and passkey in one batch)", async () => {
    const { verified } = await register();
    expect(roundTrips(verified)).toEqual(trips(1, 1, 0, 1, 3));
  });

  it("authentication options with a username: the limiter, one D1 read and the challenge object", async () => {
    const { username } = await register();
    const options = await instrumented.api("POST", "/api/v1/authentication/challenge", { username });
    expect(options.status).toBe(200);
    expect(roundTrips(options)).toEqual(trips(1, 1, 1, 0, 3));
  });

  it("authentication options for an unknown name cost the same as for a real one", async () => {
    const options = await instrumented.api("POST", "/api/v1/authentication/challenge", {
      username: uniqueUsername("nobody"),
    });
    expect(options.status).toBe(200);
    expect(roundTrips(options)).toEqual(trips(1, 1, 1, 0, 3));
  });

  it("usernameless authentication options: the limiter and the challenge object, no D1", async () => {
    const options = await instrumented.api("POST", "/api/v1/authentication/challenge", {});
    expect(options.status).toBe(200);
    expect(roundTrips(options)).toEqual(trips(1, 1, 0, 0, 2));
  });

  it("authentication verify: the limiter, the challenge object and one D1 read together, then one D1 write", async () => {
    const { username, authenticator } = await register();
    for (const who of [username, undefined]) {
      const options = await instrumented.api("POST", "/api/v1/authentication/challenge", who ? { username: who } : {});
      const credential = await authenticator.assert(options.body.data, { origin: ORIGIN });
      const verified = await instrumented.api("POST", "/api/v1/authentication/verify", { credential });
      expect(verified.status).toBe(200);
      expect(roundTrips(verified)).toEqual(trips(1, 1, 1, 1, 3));
    }
  });

  // The credential is read while the challenge is taken (one wait instead of two on the edge),
  // so a spent challenge still costs that read; nothing is written.
  it("a verify with a spent challenge is refused without a write", async () => {
    const { authenticator } = await register();
    const options = await instrumented.api("POST", "/api/v1/authentication/challenge", {});
    const credential = await authenticator.assert(options.body.data, { origin: ORIGIN });
    expect((await instrumented.api("POST", "/api/v1/authentication/verify", { credential })).status).toBe(200);
    const replay = await instrumented.api("POST", "/api/v1/authentication/verify", { credential });
    expect(replay.status).toBe(400);
    expect(replay.body.error.code).toBe("INVALID_CHALLENGE");
    expect(roundTrips(replay)).toEqual(trips(1, 1, 1, 0, 2));
  });

  it("adding a passkey with a session token: the limiter, one D1 read (account and passkeys) and the challenge object", async () => {
    const { username, verified } = await register();
    const headers = { authorization: `Bearer ${verified.body.data.token}` };
    const options = await withToken("POST", "/api/v1/registration/challenge", { body: { username }, headers });
    expect(options.status).toBe(200);
    expect(roundTrips(options)).toEqual(trips(1, 1, 1, 0, 3));
  });

  it("self-service reads with a session token: the limiter and one D1 read", async () => {
    const { verified } = await register();
    const headers = { authorization: `Bearer ${verified.body.data.token}` };
    for (const path of ["/api/v1/credentials", "/api/v1/me"]) {
      const response = await withToken("GET", path, { headers });
      expect(response.status).toBe(200);
      expect(roundTrips(response)).toEqual(trips(1, 0, 1, 0, 2));
    }
  });

  it("sign-out: the limiter, one D1 read (the session's account) and one D1 write (the revocation)", async () => {
    const { verified } = await register();
    const headers = { authorization: `Bearer ${verified.body.data.token}` };
    const response = await withToken("DELETE", "/api/v1/session", { headers });
    expect(response.status).toBe(200);
    expect(roundTrips(response)).toEqual(trips(1, 0, 1, 1, 3));
  });

  it("is off by default: no Server-Timing header, and the ceremonies work the same", async () => {
    const { username, authenticator, options, verified } = await register(plain.api);
    expect(options.headers.get("server-timing")).toBeNull();
    expect(verified.headers.get("server-timing")).toBeNull();
    const signedIn = await plain.signIn(authenticator, username);
    expect(signedIn.status).toBe(200);
    expect(signedIn.headers.get("server-timing")).toBeNull();
  });
});

describe("parseRoundTrips", () => {
  it("reads counts from the descriptions and ignores other metrics", () => {
    expect(
      parseRoundTrips(
        'cpu;dur=2, limiter;dur=0.4;desc="1", challenge;desc="2";dur=1, d1-read;dur=0;desc="0", waits;desc="2"',
      ),
    ).toEqual(trips(1, 2, 0, 0, 2));
    expect(parseRoundTrips("cpu;dur=2")).toBeNull();
    expect(parseRoundTrips(null)).toBeNull();
  });
});
