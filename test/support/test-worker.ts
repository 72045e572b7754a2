import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { countedEnv, countRoundTrips, type RoundTripObserver } from "../../bench/instrumentation/storage-round-trips";
import worker from "../../src/index";
import {
  type AuthenticatorOptions,
  type ClientOverrides,
  SoftAuthenticator,
} from "../authenticator/soft-authenticator";

export const ORIGIN = "http://localhost:8787";

// biome-ignore lint/suspicious/noExplicitAny: tests read response fields ad hoc and assert on them.
type Loose = any;

export type ApiResponse<T = Loose> = {
  status: number;
  headers: Headers;
  body: {
    status: "ok" | "error";
    data: T;
    error: { code: string; message: string; details?: unknown };
    timestamp: string;
  };
};

export type TestWorkerOptions = {
  /**
   * Variables, secrets or bindings replaced (limits, keys, a broken binding), the way a deploy
   * with other settings would run; everything else as the suite configures it.
   */
  env?: Partial<Record<keyof Env | "ANALYTICS", unknown>>;
  /**
   * Sent as CF-Connecting-IP, the way Cloudflare's edge names the client. Without one, every
   * request shares the suite's single limiter bucket (vitest.config.ts gives it room).
   */
  ip?: string;
  /** Sees (and may fail) every storage call: StorageFaults (test/support/storage-faults.ts). */
  faults?: RoundTripObserver;
  /**
   * Each response reports its storage round trips in `Server-Timing`, counted the way the
   * bench's instrumented Worker counts them (bench/instrumentation/).
   */
  countRoundTrips?: boolean;
};

export type SignedUp = {
  authenticator: SoftAuthenticator;
  username: string;
  userId: string;
  token: string;
  passkeyId: string;
};

export type TestWorker = ReturnType<typeof testWorker>;
export type Api = TestWorker["api"];

/**
 * The Worker (src/index.ts: the same routes, D1 and Durable Objects) driven through its fetch
 * handler, exactly as HTTP from a browser would drive it, and its cron trigger. Each request or
 * cron run goes to the end of its waitUntil work (a passkey's last use, a retried write) before
 * it is handed back, so a test sees the deferred writes.
 */
export function testWorker(options: TestWorkerOptions = {}) {
  const overridden = options.env ? ({ ...env, ...options.env } as Env) : env;
  const patched = options.faults ? countedEnv(overridden, options.faults) : overridden;
  const handler = options.countRoundTrips ? countRoundTrips(worker.fetch) : worker.fetch;
  return boundTo(patched, handler, options.ip);
}

type Handler = (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;

function boundTo(patched: Env, handler: Handler, ip: string | undefined) {
  /** The raw Response, for what api() cannot send or read (streams, lying lengths, HTML). */
  async function fetch(request: Request): Promise<Response> {
    let sent = request;
    if (ip !== undefined && !request.headers.has("cf-connecting-ip")) {
      sent = new Request(request);
      sent.headers.set("cf-connecting-ip", ip);
    }
    const ctx = createExecutionContext();
    const response = await handler(sent, patched, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  }

  /** A JSON call (from the test origin unless `headers` say otherwise) and its parsed envelope. */
  async function api<T = Loose>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const init: RequestInit = { method, headers: { origin: ORIGIN, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    const response = await fetch(new Request(`http://localhost:8787${path}`, init));
    const text = await response.text();
    let parsed: ApiResponse<T>["body"];
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`non-JSON response ${response.status}: ${text.slice(0, 200)}`);
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }

  async function registrationOptions(body: Record<string, unknown>, headers?: Record<string, string>) {
    return api<PublicKeyCredentialCreationOptionsJSON>("POST", "/api/v1/registration/challenge", body, headers);
  }

  async function authenticationOptions(body: Record<string, unknown> = {}) {
    return api<PublicKeyCredentialRequestOptionsJSON>("POST", "/api/v1/authentication/challenge", body);
  }

  /** Full sign-up: options, a real attestation from the software authenticator, verify. */
  async function signUp(
    username = uniqueUsername(),
    options: AuthenticatorOptions = {},
    overrides: Partial<ClientOverrides> = {},
  ): Promise<SignedUp> {
    const authenticator = await SoftAuthenticator.create(options);
    const challenge = await registrationOptions({ username, displayName: `Display ${username}` });
    if (challenge.status !== 200) throw new Error(`registration challenge failed: ${JSON.stringify(challenge.body)}`);
    const credential = await authenticator.register(challenge.body.data, { origin: ORIGIN, ...overrides });
    const verified = await api("POST", "/api/v1/registration/verify", { credential });
    if (verified.status !== 201) throw new Error(`registration verify failed: ${JSON.stringify(verified.body)}`);
    return {
      authenticator,
      username,
      userId: verified.body.data.userId,
      token: verified.body.data.token,
      passkeyId: verified.body.data.passkeyId,
    };
  }

  /** Options for a sign-in (with or without a username) and the authenticator's assertion for them. */
  async function assertion(
    authenticator: SoftAuthenticator,
    username?: string,
    overrides: Partial<ClientOverrides> = {},
  ) {
    const options = await authenticationOptions(username === undefined ? {} : { username });
    if (options.status !== 200) throw new Error(`authentication challenge failed: ${JSON.stringify(options.body)}`);
    return authenticator.assert(options.body.data, { origin: ORIGIN, ...overrides });
  }

  async function signIn(authenticator: SoftAuthenticator, username?: string, overrides: Partial<ClientOverrides> = {}) {
    const credential = await assertion(authenticator, username, overrides);
    return api("POST", "/api/v1/authentication/verify", { credential });
  }

  /** The cron trigger (wrangler.toml's `crons`): every scheduled job, run to its end. */
  async function scheduled(cron = "*/10 * * * *") {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron }), patched, ctx);
    await waitOnExecutionContext(ctx);
  }

  return {
    /** The environment the app runs with: the suite's, with the overrides (and wrapped bindings). */
    env: patched,
    fetch,
    api,
    /** The same worker, its requests from another client address. */
    at: (address: string) => boundTo(patched, handler, address),
    registrationOptions,
    authenticationOptions,
    signUp,
    assertion,
    signIn,
    scheduled,
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let counter = 0;
/**
 * A username no other test uses, so tests sharing one database never collide. In hex, not
 * base 36: one account per confusable skeleton (src/ceremonies/username.ts), and base 36 has
 * look-alikes ("1" and "l", "m" and "rn") that made two generated names one account now and then.
 */
export const uniqueUsername = (prefix = "user") => `${prefix}-${Date.now().toString(16)}-${(counter++).toString(16)}`;

/** Fresh key material in the form the secrets take. */
export const newKey = () => isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(32)));

const randomHex = () => crypto.getRandomValues(new Uint16Array(1))[0]?.toString(16) ?? "0";
const randomOctet = () => crypto.getRandomValues(new Uint8Array(1))[0] ?? 0;

/** A documentation-range /64 no other test uses: `${prefix}::1`, `${prefix}:ffff::2`, … */
export const freshIPv6Prefix = () => `2001:db8:${randomHex()}:${randomHex()}`;

/** A private IPv4 address no other test is likely to use. */
export const freshIPv4 = () => `10.${randomOctet()}.${randomOctet()}.${Math.max(1, randomOctet() % 250)}`;
