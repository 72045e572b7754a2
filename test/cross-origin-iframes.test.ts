import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { ORIGIN, uniqueUsername } from "./support/api";
import { watchSecurityEvents } from "./support/management";
import { testWorker } from "./support/test-worker";

// Issue 11, item 6: a ceremony run inside a cross-origin iframe (clientData crossOrigin: true)
// is refused unless its top-level page is in RP_TOP_ORIGINS (empty by default).
const TOP = "https://shop.example";
const byDefault = testWorker({ env: {} });
const allowing = testWorker({ env: { RP_TOP_ORIGINS: `${TOP}, https://other.example` } });

const framed = [
  ["no topOrigin at all", { crossOrigin: true }],
  ["a topOrigin nobody allowed", { crossOrigin: true, topOrigin: "https://evil.example" }],
] as const;

async function register(app: typeof byDefault, client: { crossOrigin?: boolean; topOrigin?: string } = {}) {
  const username = uniqueUsername("framed");
  const authenticator = await SoftAuthenticator.create();
  const options = await app.api("POST", "/api/v1/registration/challenge", { username });
  expect(options.status).toBe(200);
  const credential = await authenticator.register(options.body.data, { origin: ORIGIN, ...client });
  return { username, authenticator, response: await app.api("POST", "/api/v1/registration/verify", { credential }) };
}

async function signIn(
  app: typeof byDefault,
  authenticator: SoftAuthenticator,
  client: { crossOrigin?: boolean; topOrigin?: string },
) {
  const options = await app.api("POST", "/api/v1/authentication/challenge", {});
  const credential = await authenticator.assert(options.body.data, { origin: ORIGIN, ...client });
  return app.api("POST", "/api/v1/authentication/verify", { credential });
}

describe("ceremonies in cross-origin iframes", () => {
  it.each(framed)(
    "refuses a registration framed with %s (by default, and when others are allowed)",
    async (_, client) => {
      for (const app of [byDefault, allowing]) {
        const events = watchSecurityEvents();
        const { username, response } = await register(app, client);
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe("REGISTRATION_FAILED");
        const attempts = events().filter((event) => event.event === "registration_attempt");
        expect(attempts).toEqual([
          expect.objectContaining({ outcome: "failure", reason: expect.stringMatching(/^cross_origin/) }),
        ]);
        const row = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE username = ?")
          .bind(username)
          .first<{ n: number }>();
        expect(row?.n).toBe(0);
      }
    },
  );

  it.each(framed)("refuses a sign-in framed with %s (by default, and when others are allowed)", async (_, client) => {
    const { authenticator, response } = await register(byDefault);
    expect(response.status).toBe(201);
    for (const app of [byDefault, allowing]) {
      const events = watchSecurityEvents();
      const refused = await signIn(app, authenticator, client);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe("AUTHENTICATION_FAILED");
      const attempts = events().filter((event) => event.event === "authentication_attempt");
      expect(attempts).toEqual([
        expect.objectContaining({ outcome: "failure", reason: expect.stringMatching(/^cross_origin/) }),
      ]);
    }
  });

  it("refuses a framed ceremony from an allowed top origin when none are configured", async () => {
    const { response } = await register(byDefault, { crossOrigin: true, topOrigin: TOP });
    expect(response.status).toBe(400);
  });

  it("accepts registration and sign-in framed by an allowed top origin", async () => {
    const { authenticator, response } = await register(allowing, { crossOrigin: true, topOrigin: TOP });
    expect(response.status).toBe(201);
    expect((await signIn(allowing, authenticator, { crossOrigin: true, topOrigin: TOP })).status).toBe(200);
  });

  it("accepts unframed ceremonies as before, with or without an allow-list", async () => {
    for (const app of [byDefault, allowing]) {
      const { authenticator, response } = await register(app);
      expect(response.status).toBe(201);
      expect((await signIn(app, authenticator, { crossOrigin: false })).status).toBe(200);
    }
  });
});
