// The API reference page (/api/v1/docs, src/routes/api-reference.ts) in real Chromium: Scalar
// renders the OpenAPI document under the page's own content security policy, loading nothing
// from another origin. Screenshot in test-results/e2e/screenshots (docs/api.md).
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import "./support/provided-context";
import { launchChromium, screenshotDir } from "./support/chromium.mjs";

const origin = inject("origin");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

test("the API reference page renders the OpenAPI document, within its CSP and from this origin only", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const problems: string[] = [];
  const elsewhere: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol !== "data:" && url.protocol !== "blob:" && url.origin !== origin) elsewhere.push(request.url());
  });
  try {
    const response = await page.goto(`${origin}/api/v1/docs`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
    // The document's title and an operation from it, rendered by Scalar.
    await page.getByRole("heading", { name: "Edge Passkey Server API" }).first().waitFor();
    await page.getByText("Registration options for navigator.credentials.create()").first().waitFor();
    await page.screenshot({ path: `${screenshotDir}/api-reference.png` });
    expect(problems).toEqual([]);
    expect(elsewhere).toEqual([]);
  } finally {
    await context.close();
  }
});
