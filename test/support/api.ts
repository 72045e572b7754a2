import { exports } from "cloudflare:workers";
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
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

/** Drives the Worker through its real fetch handler, exactly as HTTP from a browser would. */
export async function api<T = Loose>(
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
  const response = await exports.default.fetch(new Request(`http://localhost:8787${path}`, init));
  const text = await response.text();
  let parsed: ApiResponse<T>["body"];
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`non-JSON response ${response.status}: ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let counter = 0;
/**
 * A username no other test uses, so tests sharing one database never collide. In hex, not
 * base 36: one account per confusable skeleton (src/ceremonies/username.ts), and base 36 has
 * look-alikes ("1" and "l", "m" and "rn") that made two generated names one account now and then.
 */
export const uniqueUsername = (prefix = "user") => `${prefix}-${Date.now().toString(16)}-${(counter++).toString(16)}`;

export async function registrationOptions(body: Record<string, unknown>, headers?: Record<string, string>) {
  return api<PublicKeyCredentialCreationOptionsJSON>("POST", "/api/v1/registration/challenge", body, headers);
}

export async function authenticationOptions(body: Record<string, unknown> = {}) {
  return api<PublicKeyCredentialRequestOptionsJSON>("POST", "/api/v1/authentication/challenge", body);
}

export type SignedUp = {
  authenticator: SoftAuthenticator;
  username: string;
  userId: string;
  token: string;
  passkeyId: string;
};

/** Full sign-up: options, a real attestation from the software authenticator, verify. */
export async function signUp(
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
export async function assertion(
  authenticator: SoftAuthenticator,
  username?: string,
  overrides: Partial<ClientOverrides> = {},
) {
  const options = await authenticationOptions(username === undefined ? {} : { username });
  if (options.status !== 200) throw new Error(`authentication challenge failed: ${JSON.stringify(options.body)}`);
  return authenticator.assert(options.body.data, { origin: ORIGIN, ...overrides });
}

export async function signIn(
  authenticator: SoftAuthenticator,
  username?: string,
  overrides: Partial<ClientOverrides> = {},
) {
  const credential = await assertion(authenticator, username, overrides);
  return api("POST", "/api/v1/authentication/verify", { credential });
}
