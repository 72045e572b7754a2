// Full ceremonies over HTTP, as a browser with a passkey would run them: the software
// authenticator from the tests signs, with keys generated before any clock starts.
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import { parseRoundTrips, type RoundTrips } from "../src/observability/round-trip-header";
import { SoftAuthenticator } from "../test/authenticator/soft-authenticator";

export const endpoints = [
  "registration/challenge",
  "registration/verify",
  "authentication/challenge",
  "authentication/verify",
] as const;
export type Endpoint = (typeof endpoints)[number];

export type CallRecord = {
  /** One of `endpoints`, or another name for requests outside the ceremonies. */
  endpoint: string;
  ms: number;
  ok: boolean;
  status: number;
  /** Storage round trips the server reported (only with BENCH_INSTRUMENTATION). */
  roundTrips: RoundTrips | null;
};

/** One server under test: where to send requests and the web origin its clients run on. */
export type Target = { name: string; url: string; origin: string };

/** A bench user: a registered passkey, the client address it calls from. */
export type BenchUser = { username: string; authenticator: SoftAuthenticator; ip: string };

/** Thrown when a step fails; the records so far come with it, so the failure is counted where it happened. */
export class CeremonyError extends Error {
  constructor(
    readonly calls: CallRecord[],
    message: string,
  ) {
    super(message);
  }
}

/**
 * No single call may hold a worker longer than this (the slowest full-run calls take well under
 * a second); a call that runs out counts as a failed ceremony, and the run exits non-zero.
 */
export const CALL_TIMEOUT_MS = 15_000;

async function call<T>(
  target: Target,
  endpoint: Endpoint,
  body: unknown,
  ip: string,
  calls: CallRecord[],
  expectStatus = 200,
): Promise<T> {
  const started = performance.now();
  let status = 0;
  let json: { data?: T; error?: { code: string } } | undefined;
  let roundTrips: CallRecord["roundTrips"] = null;
  let failure = "";
  try {
    const response = await fetch(`${target.url}/api/v1/${endpoint}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        origin: target.origin,
        // CF-Connecting-IP is how the edge names the client; under wrangler dev it passes
        // through, so each simulated user gets its own rate-limit bucket, as real users would.
        "cf-connecting-ip": ip,
        // wrangler dev would gzip every answer in the proxy (on the edge that happens outside
        // the Worker) and the baseline never does: compare the servers, not the compressors.
        "accept-encoding": "identity",
      },
      body: JSON.stringify(body),
      // Covers reading the body too.
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    status = response.status;
    roundTrips = parseRoundTrips(response.headers.get("server-timing"));
    json = (await response.json()) as typeof json;
  } catch (error) {
    // A network error, a timeout or a non-JSON answer: status stays as read (0 if none).
    failure = (error as Error).name === "TimeoutError" ? `timed out after ${CALL_TIMEOUT_MS / 1000}s` : "";
  }
  const ok = status === expectStatus && json?.data !== undefined;
  calls.push({ endpoint, ms: performance.now() - started, ok, status, roundTrips });
  if (!ok) {
    throw new CeremonyError(calls, `${endpoint}: ${failure || `HTTP ${status} ${json?.error?.code ?? ""}`.trim()}`);
  }
  return json?.data as T;
}

/** One options call on its own (e.g. for a name with no account, whose decoy ids nobody can sign for). */
export async function optionsOnly(
  target: Target,
  endpoint: Endpoint,
  body: unknown,
  ip: string,
): Promise<CallRecord[]> {
  const calls: CallRecord[] = [];
  await call(target, endpoint, body, ip, calls);
  return calls;
}

/** Registration options, a fresh attestation, registration verify. */
export async function register(
  target: Target,
  authenticator: SoftAuthenticator,
  username: string,
  ip: string,
): Promise<CallRecord[]> {
  const calls: CallRecord[] = [];
  const options = await call<PublicKeyCredentialCreationOptionsJSON>(
    target,
    "registration/challenge",
    { username, displayName: username },
    ip,
    calls,
  );
  const credential = await authenticator.register(options, { origin: target.origin });
  await call(target, "registration/verify", { credential }, ip, calls, 201);
  return calls;
}

/** Authentication options (with the username, or usernameless), an assertion, authentication verify. */
export async function authenticate(target: Target, user: BenchUser, usernameless = false): Promise<CallRecord[]> {
  const calls: CallRecord[] = [];
  const options = await call<PublicKeyCredentialRequestOptionsJSON>(
    target,
    "authentication/challenge",
    usernameless ? {} : { username: user.username },
    user.ip,
    calls,
  );
  const credential = await user.authenticator.assert(options, { origin: target.origin });
  await call(target, "authentication/verify", { credential }, user.ip, calls);
  return calls;
}

/** Key pairs made up front (ES256, like most passkeys), so the client's cost per ceremony is one signature. */
export async function generateAuthenticators(count: number): Promise<SoftAuthenticator[]> {
  const made: SoftAuthenticator[] = [];
  for (let i = 0; i < count; i++) made.push(await SoftAuthenticator.create({ algorithm: "ES256" }));
  return made;
}

/** A distinct private IPv4 address per simulated user (10.0.0.0/8 has room for all of them). */
export function clientIp(index: number): string {
  const n = index + 1;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}
