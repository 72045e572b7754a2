import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clientKey, clientOf } from "../src/http/client-address";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { ORIGIN, signUp, uniqueUsername } from "./support/api";
import { captureLogLines } from "./support/log-lines";
import { freshIPv4, freshIPv6Prefix, testWorker } from "./support/test-worker";

const OPTIONS = "/api/v1/authentication/challenge";
const VERIFY = "/api/v1/authentication/verify";

let lines: string[] = [];
beforeEach(() => {
  lines = captureLogLines();
});
afterEach(() => vi.restoreAllMocks());
const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

/** The limiter instance that counts this address: its own (IPv4), or its /48's (IPv6). */
const limiterOf = (ip: string | undefined) => {
  const { key, network } = clientOf(ip);
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(network ?? key));
};

/** Moves every request this client made `seconds` into the past, as if that time had gone by. */
async function letTimePass(ip: string, seconds: number) {
  await runInDurableObject(limiterOf(ip), (_instance, state) => {
    state.storage.sql.exec("UPDATE hits SET expires_at = expires_at - ?", seconds * 1000);
  });
}

describe("per-client sliding-window limit", () => {
  it("lets the default 100 requests per 60 s through and answers the 101st with a 429 envelope and headers", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "100", RATE_LIMIT_WINDOW_SECONDS: "60" } });
    const ip = freshIPv4();
    for (let i = 1; i <= 100; i++) {
      const response = await worker.at(ip).api("POST", OPTIONS, {});
      expect(response.status).toBe(200);
      expect(response.headers.get("RateLimit-Policy")).toBe('"options";q=100;w=60');
      expect(response.headers.get("RateLimit")).toMatch(new RegExp(`^"options";r=${100 - i};t=\\d+$`));
    }

    const refused = await worker.at(ip).api("POST", OPTIONS, {});
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      status: "error",
      error: { code: "RATE_LIMIT_EXCEEDED", details: { limit: 100, windowSeconds: 60 } },
    });
    expect(typeof refused.body.timestamp).toBe("string");
    const retryAfter = Number(refused.headers.get("Retry-After"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body.error.details).toMatchObject({ retryAfterSeconds: retryAfter });
    expect(refused.headers.get("RateLimit-Policy")).toBe('"options";q=100;w=60');
    expect(refused.headers.get("RateLimit")).toBe(`"options";r=0;t=${retryAfter}`);
    // A browser app can read the refusal and its headers.
    expect(refused.headers.get("Access-Control-Allow-Origin")).toBe(ORIGIN);
    expect(refused.headers.get("Access-Control-Expose-Headers")).toMatch(/Retry-After.*RateLimit.*RateLimit-Policy/);
    expect(refused.headers.get("X-Request-Id")).toBeTruthy();
    // 101 requests in a row: room for a busy machine beyond vitest's default 5 s (not a speed check).
  }, 60_000);

  it("lets the client in again once the window has passed, and not before", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "3", RATE_LIMIT_WINDOW_SECONDS: "60" } });
    const ip = freshIPv4();
    for (let i = 0; i < 3; i++) expect((await worker.at(ip).api("POST", OPTIONS, {})).status).toBe(200);
    expect((await worker.at(ip).api("POST", OPTIONS, {})).status).toBe(429);

    await letTimePass(ip, 30);
    expect((await worker.at(ip).api("POST", OPTIONS, {})).status).toBe(429);

    await letTimePass(ip, 30);
    const again = await worker.at(ip).api("POST", OPTIONS, {});
    expect(again.status).toBe(200);
    expect(again.headers.get("RateLimit")).toMatch(/^"options";r=2;t=\d+$/);
  });

  it("counts every address in one IPv6 /64 together, and other /64s apart", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "2" } });
    const prefix = freshIPv6Prefix();
    expect((await worker.at(`${prefix}::1`).api("POST", OPTIONS, {})).status).toBe(200);
    expect((await worker.at(`${prefix}:ffff:ffff:ffff:fffe`).api("POST", OPTIONS, {})).status).toBe(200);
    // Same /64, written long-hand with leading zeros.
    const [, , a, b] = prefix.split(":");
    const longHand = `2001:0db8:${a?.padStart(4, "0")}:${b?.padStart(4, "0")}:0000:0000:0000:abcd`;
    expect((await worker.at(longHand).api("POST", OPTIONS, {})).status).toBe(429);

    const neighbour = `2001:db8:${a}:${(Number.parseInt(b ?? "0", 16) ^ 1).toString(16)}::1`;
    expect((await worker.at(neighbour).api("POST", OPTIONS, {})).status).toBe(200);
  });

  it("counts a whole IPv6 /48 too, at RATE_LIMIT_IPV6_48_FACTOR times the /64 budget, apart from other /48s", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "2", RATE_LIMIT_IPV6_48_FACTOR: "3" } });
    const network = freshIPv6Prefix().split(":").slice(0, 3).join(":");
    const subnet = (n: number) => `${network}:${n.toString(16)}::1`;
    // Three /64s of one /48 use up their own budgets (2 each) and so the /48's (6).
    for (let n = 0; n < 3; n++) {
      for (let i = 0; i < 2; i++) expect((await worker.at(subnet(n)).api("POST", OPTIONS, {})).status).toBe(200);
    }
    // A fourth /64 of the same /48 has its own budget left, but the /48 has none.
    const refused = await worker.at(subnet(3)).api("POST", OPTIONS, {});
    expect(refused.status).toBe(429);
    expect(refused.body.error.details).toMatchObject({ limit: 6 });
    expect(refused.headers.get("RateLimit-Policy")).toBe('"options";q=2;w=60, "options/48";q=6;w=60');
    expect(refused.headers.get("RateLimit")).toMatch(/^"options\/48";r=0;t=\d+$/);
    // The next /48 over is counted apart.
    const [, , third] = network.split(":");
    const otherNetwork = `2001:db8:${(Number.parseInt(third ?? "0", 16) ^ 1).toString(16)}`;
    expect((await worker.at(`${otherNetwork}:3::1`).api("POST", OPTIONS, {})).status).toBe(200);
  });

  it("gives a /48 sixteen /64 budgets by default", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "1" } });
    const network = freshIPv6Prefix().split(":").slice(0, 3).join(":");
    for (let n = 0; n < 16; n++) {
      expect((await worker.at(`${network}:${n.toString(16)}::1`).api("POST", OPTIONS, {})).status).toBe(200);
    }
    expect((await worker.at(`${network}:ff::1`).api("POST", OPTIONS, {})).status).toBe(429);
  });

  it("counts IPv4 addresses one by one, and an IPv4-mapped IPv6 address as its IPv4 address", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "1" } });
    const ip = freshIPv4();
    expect((await worker.at(ip).api("POST", OPTIONS, {})).status).toBe(200);
    expect((await worker.at(`::ffff:${ip}`).api("POST", OPTIONS, {})).status).toBe(429);
    const [a, b, c, d] = ip.split(".").map(Number);
    expect((await worker.at(`${a}.${b}.${c}.${(d ?? 0) + 1}`).api("POST", OPTIONS, {})).status).toBe(200);
  });

  it("puts requests without a usable CF-Connecting-IP into one shared bucket", async () => {
    // A long window keeps this test's own entries counted whatever else uses the bucket.
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "2", RATE_LIMIT_WINDOW_SECONDS: "86400" } });
    let allowed = 0;
    while ((await worker.api("POST", OPTIONS, {})).status === 200) {
      allowed++;
      expect(allowed).toBeLessThanOrEqual(2);
    }
    expect((await worker.at("not-an-address").api("POST", OPTIONS, {})).status).toBe(429);
    expect((await worker.at("").api("POST", OPTIONS, {})).status).toBe(429);
    expect((await worker.at(freshIPv4()).api("POST", OPTIONS, {})).status).toBe(200);
  });
});

describe("route groups", () => {
  it("gives verify calls their own, stricter budget, apart from options and the rest of the API", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "5", RATE_LIMIT_VERIFY_REQUESTS: "2" } });
    const ip = freshIPv4();
    for (let i = 0; i < 2; i++) {
      const verify = await worker.at(ip).api("POST", VERIFY, {});
      expect(verify.status).toBe(400); // refused by validation, but counted
      expect(verify.headers.get("RateLimit-Policy")).toBe('"verify";q=2;w=60');
    }
    const third = await worker.at(ip).api("POST", "/api/v1/registration/verify", {});
    expect(third.status).toBe(429);
    expect(third.headers.get("RateLimit")).toMatch(/^"verify";r=0;t=\d+$/);

    const options = await worker.at(ip).api("POST", OPTIONS, {});
    expect(options.status).toBe(200);
    expect(options.headers.get("RateLimit")).toMatch(/^"options";r=4;t=\d+$/);
    const other = await worker.at(ip).api("GET", "/api/v1/no-such-route");
    expect(other.status).toBe(404);
    expect(other.headers.get("RateLimit-Policy")).toBe('"api";q=5;w=60');
  });

  it("never limits or counts the health check and /.well-known", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "1" } });
    const ip = freshIPv4();
    for (let i = 0; i < 3; i++) {
      const health = await worker.at(ip).api("GET", "/api/v1/health");
      expect(health.status).toBe(200);
      expect(health.headers.get("RateLimit")).toBeNull();
      expect((await worker.at(ip).api("GET", "/.well-known/jwks.json")).status).toBe(200);
    }
    expect((await worker.at(ip).api("POST", OPTIONS, {})).status).toBe(200);
  });

  // The verdict arrives together with the challenge's spend (one wait on the edge); a refusal
  // gives the challenge back, so it changes nothing.
  it("a refused verify leaves its challenge usable", async () => {
    const user = await signUp();
    const worker = testWorker({ env: { RATE_LIMIT_VERIFY_REQUESTS: "1" } });
    const ip = freshIPv4();
    const options = await worker.at(ip).api("POST", OPTIONS, { username: user.username });
    const credential = await user.authenticator.assert(options.body.data, { origin: ORIGIN });

    expect((await worker.at(ip).api("POST", VERIFY, {})).status).toBe(400);
    expect((await worker.at(ip).api("POST", VERIFY, { credential })).status).toBe(429);

    await letTimePass(ip, 60);
    const verified = await worker.at(ip).api("POST", VERIFY, { credential });
    expect(verified.status).toBe(200);
    expect(verified.body.data.userId).toBe(user.userId);
  });
  it("a refused sign-up verify creates nothing, records no attempt, and leaves its challenge usable", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_VERIFY_REQUESTS: "1" } });
    const ip = freshIPv4();
    const username = uniqueUsername("limited");
    const options = await worker.at(ip).api("POST", "/api/v1/registration/challenge", { username });
    const credential = await (await SoftAuthenticator.create()).register(options.body.data, { origin: ORIGIN });
    expect((await worker.at(ip).api("POST", VERIFY, {})).status).toBe(400);

    const refused = await worker.at(ip).api("POST", "/api/v1/registration/verify", { credential });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("RATE_LIMIT_EXCEEDED");
    const row = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE username = ?")
      .bind(username)
      .first<{ n: number }>();
    expect(row?.n).toBe(0);
    expect(records().filter((r) => r.event === "registration_attempt")).toEqual([]);

    await letTimePass(ip, 60);
    expect((await worker.at(ip).api("POST", "/api/v1/registration/verify", { credential })).status).toBe(201);
  });

  it("answers 429, not the ceremony's own refusal, when the limiter refused a bad verify", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_VERIFY_REQUESTS: "1" } });
    const ip = freshIPv4();
    const user = await signUp();
    const options = await worker.at(ip).api("POST", OPTIONS, {});
    const credential = await user.authenticator.assert(options.body.data, { origin: ORIGIN });
    expect((await worker.at(ip).api("POST", VERIFY, {})).status).toBe(400);
    const tampered = { ...credential, response: { ...credential.response, clientDataJSON: "e30" } };
    for (const body of [{ credential: tampered }, { credential }]) {
      expect((await worker.at(ip).api("POST", VERIFY, body)).status).toBe(429);
    }
    expect(records().filter((r) => r.event === "authentication_attempt")).toEqual([]);
  });

  it("answers 429 to self-service reads past the limit (the session read and the verdict run together)", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "1" } });
    const ip = freshIPv4();
    const user = await signUp();
    const headers = { authorization: `Bearer ${user.token}` };
    expect((await worker.at(ip).api("GET", "/api/v1/me", undefined, headers)).status).toBe(200);
    const refused = await worker.at(ip).api("GET", "/api/v1/credentials", undefined, headers);
    expect(refused.status).toBe(429);
    expect(refused.body.data).toBeUndefined();
  });
});

describe("audit and storage", () => {
  it("records a rate_limited security event naming the group and the client's /64", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "1" } });
    const prefix = freshIPv6Prefix();
    await worker.at(`${prefix}::7`).api("POST", OPTIONS, {});
    expect(records().some((r) => r.event === "rate_limited")).toBe(false);
    await worker.at(`${prefix}::8`).api("POST", OPTIONS, {});
    const event = records().find((r) => r.event === "rate_limited");
    expect(event).toMatchObject({
      type: "security_event",
      outcome: "failure",
      reason: "options",
      client: clientKey(`${prefix}::8`),
      level: "warn",
    });
    expect(String(event?.client)).toMatch(/^ip6:2001:db8:[0-9a-f]+:[0-9a-f]+::\/64$/);
  });

  it("forgets a client that went quiet: the cleanup alarm leaves no storage behind", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "5" } });
    const ip = freshIPv4();
    await worker.at(ip).api("POST", OPTIONS, {});
    const stub = limiterOf(ip);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).not.toBeNull();

    await letTimePass(ip, 60);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const tables = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'hits'").toArray(),
    );
    expect(tables).toEqual([]);

    const again = await worker.at(ip).api("POST", OPTIONS, {});
    expect(again.status).toBe(200);
    expect(again.headers.get("RateLimit")).toMatch(/^"options";r=4;/);
    await letTimePass(ip, 60);
    await runDurableObjectAlarm(stub);
  });

  it("schedules a new cleanup alarm when a forgotten client comes back", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_REQUESTS: "5" } });
    const ip = freshIPv4();
    const stub = limiterOf(ip);
    const alarm = () => runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    await worker.at(ip).api("POST", OPTIONS, {});
    await letTimePass(ip, 60);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await alarm()).toBeNull();

    await worker.at(ip).api("POST", OPTIONS, {});
    expect(await alarm()).toBeGreaterThan(Date.now());
    await letTimePass(ip, 60);
    await runDurableObjectAlarm(stub);
  });
});

describe("limiter faults", () => {
  // A limiter whose every `hit` fails, the way an overloaded or reset Durable Object's call does.
  // (Pointing the binding at another class's namespace fails too, but workerd then also prints
  // the callee's "RPC receiver does not implement hit" as an uncaught error in a passing run.)
  const failingLimiter = {
    idFromName: (name: string) => env.RATE_LIMITER.idFromName(name),
    get: () => ({ hit: () => Promise.reject(new Error("Durable Object is overloaded")) }),
  };
  const broken = { RATE_LIMITER: failingLimiter };

  it("fail-closed (the default): answers 503 with Retry-After, does not run the route, and logs the fault", async () => {
    expect(env.RATE_LIMIT_ON_ERROR).toBe("closed");
    const worker = testWorker({ env: broken });
    const response = await worker.at(freshIPv4()).api("POST", OPTIONS, {});
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ status: "error", error: { code: "SERVICE_UNAVAILABLE" } });
    expect(response.headers.get("Retry-After")).toBe("5");
    expect(response.headers.get("RateLimit")).toBeNull();

    const all = records();
    expect(all).toContainEqual(
      expect.objectContaining({ type: "rate_limiter_fault", level: "error", failMode: "closed" }),
    );
    expect(all).toContainEqual(
      expect.objectContaining({ type: "security_event", event: "rate_limiter_fault", reason: "fail_closed" }),
    );
  });

  it("fail-closed also covers a missing binding", async () => {
    const worker = testWorker({ env: { RATE_LIMITER: undefined } });
    const response = await worker.at(freshIPv4()).api("POST", OPTIONS, {});
    expect(response.status).toBe(503);
    expect(records()).toContainEqual(expect.objectContaining({ event: "rate_limiter_fault", reason: "fail_closed" }));
  });

  it("fail-open: lets the request through, and still logs the fault", async () => {
    const worker = testWorker({ env: { ...broken, RATE_LIMIT_ON_ERROR: "open" } });
    const response = await worker.at(freshIPv4()).api("POST", OPTIONS, {});
    expect(response.status).toBe(200);
    expect(typeof response.body.data.challenge).toBe("string");
    expect(response.headers.get("RateLimit")).toBeNull();

    const all = records();
    expect(all).toContainEqual(
      expect.objectContaining({ type: "rate_limiter_fault", level: "error", failMode: "open" }),
    );
    expect(all).toContainEqual(
      expect.objectContaining({ type: "security_event", event: "rate_limiter_fault", reason: "fail_open" }),
    );
  });

  it("refuses a fail mode it does not know, naming the variable", async () => {
    const worker = testWorker({ env: { RATE_LIMIT_ON_ERROR: "maybe" } });
    const response = await worker.at(freshIPv4()).api("POST", OPTIONS, {});
    expect(response.status).toBe(500);
    expect(response.body.error).toMatchObject({
      code: "CONFIGURATION_ERROR",
      details: { variables: ["RATE_LIMIT_ON_ERROR"] },
    });
  });
});

describe("client keys", () => {
  it.each([
    ["203.0.113.9", "ip4:203.0.113.9"],
    ["::ffff:203.0.113.9", "ip4:203.0.113.9"],
    ["2001:db8:1:2:3:4:5:6", "ip6:2001:db8:1:2::/64"],
    ["2001:DB8:0001:0002::", "ip6:2001:db8:1:2::/64"],
    [" 2001:db8::1 ", "ip6:2001:db8::/64"],
    [undefined, "unknown"],
    ["", "unknown"],
    ["203.0.113.300", "unknown"],
    ["localhost", "unknown"],
    ["2001:db8::1::2", "unknown"],
  ])("%s → %s", (header, key) => {
    expect(clientKey(header)).toBe(key);
  });
});

describe("client networks (IPv6 /48)", () => {
  it.each([
    ["2001:db8:1:2:3:4:5:6", "ip6:2001:db8:1::/48"],
    ["2001:db8:1:ffff::1", "ip6:2001:db8:1::/48"],
    ["2001:db8:0:2::", "ip6:2001:db8::/48"],
    ["203.0.113.9", null],
    ["::ffff:203.0.113.9", null],
    [undefined, null],
  ])("%s → %s", (header, network) => {
    expect(clientOf(header).network).toBe(network);
  });
});
