import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { app } from "../../src/app";
import { type ApiResponse, ORIGIN } from "./api";

export type Call = {
  /** Sent as CF-Connecting-IP, the way Cloudflare's edge names the client. */
  ip?: string;
  body?: unknown;
  headers?: Record<string, string>;
};

/**
 * The real app with its real D1 and Durable Object bindings, run with some variables or
 * bindings replaced (limits, fail mode, a broken limiter binding), and requests that carry a
 * client address.
 */
export function workerWithEnv(overrides: Partial<Record<keyof Env | "ANALYTICS", unknown>> = {}) {
  const patched = { ...env, ...overrides } as Env;
  return async (method: string, path: string, call: Call = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { origin: ORIGIN, ...call.headers };
    if (call.ip !== undefined) headers["cf-connecting-ip"] = call.ip;
    if (call.body !== undefined) headers["content-type"] ??= "application/json";
    const request = new Request(`http://localhost:8787${path}`, {
      method,
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
    });
    const ctx = createExecutionContext();
    const response = await app.fetch(request, patched, ctx);
    await waitOnExecutionContext(ctx);
    return { status: response.status, headers: response.headers, body: await response.json() };
  };
}

const randomHex = () => crypto.getRandomValues(new Uint16Array(1))[0]?.toString(16) ?? "0";
const randomOctet = () => crypto.getRandomValues(new Uint8Array(1))[0] ?? 0;

/** A documentation-range /64 no other test uses: `${prefix}::1`, `${prefix}:ffff::2`, … */
export const freshIPv6Prefix = () => `2001:db8:${randomHex()}:${randomHex()}`;

/** A private IPv4 address no other test is likely to use. */
export const freshIPv4 = () => `10.${randomOctet()}.${randomOctet()}.${Math.max(1, randomOctet() % 250)}`;
