import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { app } from "../../src/app";
import type { SoftAuthenticator } from "../authenticator/soft-authenticator";
import { type ApiResponse, ORIGIN } from "./api";

/** Fresh key material in the form the secrets take. */
export const newKey = () => isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(32)));

/**
 * The real app (same routes, D1 and Durable Objects) run with some variables or secrets
 * replaced, the way a deploy with new secrets would run it.
 */
export function appWithEnv(overrides: Partial<Record<keyof Env, unknown>>) {
  const patched = { ...env, ...overrides } as Env;

  async function api(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const request = new Request(`http://localhost:8787${path}`, {
      method,
      headers: { origin: ORIGIN, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const ctx = createExecutionContext();
    const response = await app.fetch(request, patched, ctx);
    await waitOnExecutionContext(ctx);
    return { status: response.status, headers: response.headers, body: await response.json() };
  }

  async function signIn(authenticator: SoftAuthenticator, username: string) {
    const options = await api("POST", "/api/v1/authentication/challenge", { username });
    if (options.status !== 200) return options;
    const credential = await authenticator.assert(options.body.data, { origin: ORIGIN });
    return api("POST", "/api/v1/authentication/verify", { credential });
  }

  return { env: patched, api, signIn };
}
