// The demo's message when the server's per-client rate limit refuses a request. This file
// starts its own `wrangler dev` with a tiny limit (the shared one has generous limits).
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launchChromium } from "./support/chromium.mjs";
import { Demo, uniqueUsername } from "./support/demo";
import { startServer } from "./support/server.mjs";

const LIMIT = 2;
let browser: Browser;
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  server = await startServer({ vars: { RATE_LIMIT_REQUESTS: String(LIMIT), RATE_LIMIT_WINDOW_SECONDS: "600" } });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

test("too many attempts get a clear message with the time to wait", async () => {
  const demo = await Demo.open(browser, server.origin);
  await demo.page.fill("#username", uniqueUsername("eager"));
  // Each attempt asks for a challenge; the authenticator has no passkey for the name.
  for (let attempt = 0; attempt < LIMIT; attempt += 1) {
    await demo.page.click("#sign-in");
    await demo.noticeMatching(/no passkey for/);
  }
  const refused = demo.page.waitForResponse((response) => response.url().endsWith("/api/v1/authentication/challenge"));
  await demo.page.click("#sign-in");
  expect((await refused).status()).toBe(429);
  const message = await demo.noticeMatching(/Too many attempts/);
  expect(message).toMatch(/Try again in \d+ minutes/);
  await expect(demo.page.isVisible("#signed-out")).resolves.toBe(true);
  expect(demo.problems).toEqual([]);
  await demo.screenshot("10-rate-limited");
});
