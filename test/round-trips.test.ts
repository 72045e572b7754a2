import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseRoundTrips, type RoundTrips } from "../bench/instrumentation/storage-round-trips";
import { type AuthenticatorOptions, SoftAuthenticator } from "./authenticator/soft-authenticator";
import { type ApiResponse, ORIGIN, uniqueUsername } from "./support/api";
import { testWorker } from "./support/test-worker";

// Storage round trips per endpoint, counted over wrapped bindings the way `npm run bench`
// counts them (bench/instrumentation/). On the edge each one can cost tens of milliseconds, so
// these are budgets: a change that adds one, or makes two calls wait one after the other that
// waited together, fails here. Counts only; times are never asserted.
const instrumented = testWorker({ countRoundTrips: true });
const plain = testWorker();

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

async function register(api = instrumented.api, authenticatorOptions: AuthenticatorOptions = {}) {
  const username = uniqueUsername("trips");
  const authenticator = await SoftAuthenticator.create(authenticatorOptions);
  const options = await api("POST", "/api/v1/registration/challenge", { username, displayName: username });
  expect(options.status).toBe(200);
  const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
  const verified = await api("POST", "/api/v1/registration/verify", { credential });
  expect(verified.status).toBe(201);
  return { username, authenticator, options, verified };
}

/** A synced passkey: its counter stays 0 (the platform authenticators' way), flags unchanged. */
const synced: AuthenticatorOptions = { countSignatures: false, backupEligible: true, backupState: true };

async function signInTrips(authenticator: SoftAuthenticator, username: string | undefined) {
  const options = await instrumented.api("POST", "/api/v1/authentication/challenge", username ? { username } : {});
  expect(options.status).toBe(200);
  const credential = await authenticator.assert(options.body.data, { origin: ORIGIN });
  const verified = await instrumented.api("POST", "/api/v1/authentication/verify", { credential });
  expect(verified.status).toBe(200);
  return { options: roundTrips(options), verified: roundTrips(verified) };
}

// The budgets of issue 10, in waits: each is a network round trip on the edge.
describe("storage waits per ceremony (counted as the bench counts them)", () => {
  it("sign-in with a synced passkey: 1 wait for options, 1 for verify (last use recorded after the answer)", async () => {
    const { username, authenticator, verified: signedUp } = await register(instrumented.api, synced);
    const { options, verified } = await signInTrips(authenticator, username);
    // Recorded with waitUntil once the answer was ready (the helper waits for that work).
    const row = await env.DB.prepare("SELECT last_used_at AS usedAt FROM credentials WHERE user_id = ?")
      .bind(signedUp.body.data.userId)
      .first<{ usedAt: number | null }>();
    expect(row?.usedAt).toBeGreaterThan(0);
    // Options: the limiter and one D1 read together; no challenge object at all (sealed state).
    expect(options).toEqual(trips(1, 0, 1, 0, 1));
    // Verify: the limiter, the challenge's spend and the credential read together; no write waited on.
    expect(verified).toEqual(trips(1, 1, 1, 0, 1));
    expect(options.waits + verified.waits).toBeLessThanOrEqual(2);
  });

  it("sign-in with a counter-bearing security key: then one compare-and-swap write, 3 waits in all", async () => {
    const { username, authenticator } = await register();
    const { options, verified } = await signInTrips(authenticator, username);
    expect(authenticator.signCount).toBeGreaterThan(0);
    expect(options).toEqual(trips(1, 0, 1, 0, 1));
    expect(verified).toEqual(trips(1, 1, 1, 1, 2));
    expect(options.waits + verified.waits).toBeLessThanOrEqual(3);
  });

  it("usernameless sign-in: the limiter alone for options, 2 waits in all", async () => {
    const { authenticator } = await register(instrumented.api, synced);
    const { options, verified } = await signInTrips(authenticator, undefined);
    expect(options).toEqual(trips(1, 0, 0, 0, 1));
    expect(verified).toEqual(trips(1, 1, 1, 0, 1));
    expect(options.waits + verified.waits).toBeLessThanOrEqual(2);
  });

  it("sign-in options for an unknown name cost the same as for a real one", async () => {
    const options = await instrumented.api("POST", "/api/v1/authentication/challenge", {
      username: uniqueUsername("nobody"),
    });
    expect(options.status).toBe(200);
    expect(roundTrips(options)).toEqual(trips(1, 0, 1, 0, 1));
  });

  it("sign-up: options 1 wait (limiter with the name's read), verify 2 (spend with the limiter, then one batch)", async () => {
    const { options, verified } = await register();
    expect(roundTrips(options)).toEqual(trips(1, 0, 1, 0, 1));
    expect(roundTrips(verified)).toEqual(trips(1, 1, 0, 1, 2));
    expect(roundTrips(options).waits + roundTrips(verified).waits).toBeLessThanOrEqual(3);
  });

  it("adding a passkey with a session token: options 1 wait, verify 2 (one conditional insert), 3 in all", async () => {
    const { username, verified } = await register();
    const headers = { authorization: `Bearer ${verified.body.data.token}` };
    const options = await instrumented.api("POST", "/api/v1/registration/challenge", { username }, headers);
    expect(options.status).toBe(200);
    const credential = await (await SoftAuthenticator.create()).register(options.body.data, { origin: ORIGIN });
    const added = await instrumented.api("POST", "/api/v1/registration/verify", { credential });
    expect(added.status).toBe(201);
    // The session's read (account and passkeys) together with the limiter.
    expect(roundTrips(options)).toEqual(trips(1, 0, 1, 0, 1));
    expect(roundTrips(added)).toEqual(trips(1, 1, 0, 1, 2));
    expect(roundTrips(options).waits + roundTrips(added).waits).toBeLessThanOrEqual(3);
  });

  it("self-service reads with a session token: the limiter and one D1 read, together", async () => {
    const { verified } = await register();
    const headers = { authorization: `Bearer ${verified.body.data.token}` };
    for (const path of ["/api/v1/credentials", "/api/v1/me"]) {
      const response = await instrumented.api("GET", path, undefined, headers);
      expect(response.status).toBe(200);
      expect(roundTrips(response)).toEqual(trips(1, 0, 1, 0, 1));
    }
  });

  // The credential is read while the challenge is spent (one wait instead of two on the edge),
  // so a spent challenge still costs that read; nothing is written.
  it("a verify with a spent challenge is refused without a write", async () => {
    const { authenticator } = await register();
    const options = await instrumented.api("POST", "/api/v1/authentication/challenge", {});
    const credential = await authenticator.assert(options.body.data, { origin: ORIGIN });
    expect((await instrumented.api("POST", "/api/v1/authentication/verify", { credential })).status).toBe(200);
    const replay = await instrumented.api("POST", "/api/v1/authentication/verify", { credential });
    expect(replay.status).toBe(400);
    expect(replay.body.error.code).toBe("INVALID_CHALLENGE");
    expect(roundTrips(replay)).toEqual(trips(1, 1, 1, 0, 1));
  });

  it("a tampered challenge costs no challenge object at all", async () => {
    const { authenticator } = await register();
    const options = await instrumented.api("POST", "/api/v1/authentication/challenge", {});
    const challenge: string = options.body.data.challenge;
    const flipped = `${challenge.slice(0, 20)}${challenge[20] === "A" ? "B" : "A"}${challenge.slice(21)}`;
    const credential = await authenticator.assert({ ...options.body.data, challenge: flipped }, { origin: ORIGIN });
    const response = await instrumented.api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("INVALID_CHALLENGE");
    expect(roundTrips(response)).toEqual(trips(1, 0, 1, 0, 1));
  });

  it("sign-out: the limiter, one D1 read (the session's account) and one D1 write (the revocation)", async () => {
    const { verified } = await register();
    const headers = { authorization: `Bearer ${verified.body.data.token}` };
    const response = await instrumented.api("DELETE", "/api/v1/session", undefined, headers);
    expect(response.status).toBe(200);
    expect(roundTrips(response)).toEqual(trips(1, 0, 1, 1, 3));
  });

  it("is not in the app: no Server-Timing header without the counting harness, and the ceremonies work the same", async () => {
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
