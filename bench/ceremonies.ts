// Full ceremonies over HTTP, as a browser with a passkey would run them: the software
// authenticator from the tests signs, with keys generated before any clock starts. Requests go
// through node:http with a keep-alive agent per target (one connection per concurrent client).
import { Agent, request } from "node:http";
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import { SoftAuthenticator } from "../test/authenticator/soft-authenticator";
import { parseWaitPath, type WaitLabel } from "./instrumentation/round-trip-header";

export type Endpoint = `${"registration" | "authentication"}/${"challenge" | "verify"}`;

export type CallRecord = {
  endpoint: Endpoint;
  ms: number;
  ok: boolean;
  status: number;
  /** The storage waits the server reported, in order (only from the instrumented entry, bench/instrumentation/worker.ts). */
  waits: WaitLabel[][] | null;
};

/** One server under test: where to send requests, the web origin its clients run on, its connections. */
export type Target = { name: string; url: string; origin: string; agent: Agent };

export const targetAt = (name: string, url: string, origin: string): Target => ({
  name,
  url,
  origin,
  agent: new Agent({ keepAlive: true, maxSockets: 64 }),
});

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

/** POST of a JSON body over the target's keep-alive connections: status, headers, body text. */
function post(target: Target, path: string, body: string, ip: string) {
  return new Promise<{ status: number; serverTiming: string | null; text: string }>((resolve, reject) => {
    const req = request(
      `${target.url}${path}`,
      {
        method: "POST",
        agent: target.agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          origin: target.origin,
          // CF-Connecting-IP is how the edge names the client; under wrangler dev it passes
          // through, so each simulated user gets its own rate-limit bucket, as real users would.
          "cf-connecting-ip": ip,
        },
        timeout: CALL_TIMEOUT_MS,
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => {
          const timing = response.headers["server-timing"];
          resolve({ status: response.statusCode ?? 0, serverTiming: typeof timing === "string" ? timing : null, text });
        });
        response.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out after ${CALL_TIMEOUT_MS / 1000}s`)));
    req.on("error", reject);
    req.end(body);
  });
}

export async function call<T>(
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
  let waits: CallRecord["waits"] = null;
  let failure = "";
  try {
    const response = await post(target, `/api/v1/${endpoint}`, JSON.stringify(body), ip);
    status = response.status;
    waits = parseWaitPath(response.serverTiming);
    json = JSON.parse(response.text) as typeof json;
  } catch (error) {
    // A network error, a timeout or a non-JSON answer: status stays as read (0 if none).
    failure = (error as Error).message;
  }
  const ok = status === expectStatus && json?.data !== undefined;
  calls.push({ endpoint, ms: performance.now() - started, ok, status, waits });
  if (!ok) {
    throw new CeremonyError(calls, `${endpoint}: ${`HTTP ${status} ${json?.error?.code ?? ""} ${failure}`.trim()}`);
  }
  return json?.data as T;
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
