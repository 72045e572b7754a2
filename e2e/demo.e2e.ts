// The demo web app in real Chromium against `wrangler dev`, with a CDP virtual authenticator.
// Screenshots go to test-results/e2e/screenshots (docs/demo.md).
import type { Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from "vitest";
import "./support/provided-context";
import { launchChromium } from "./support/chromium.mjs";
import { Demo, uniqueUsername } from "./support/demo";

const origin = inject("origin");
let browser: Browser;
let demo: Demo | undefined;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(() => {
  // No CSP or Trusted Types violation and no uncaught error in any test.
  expect(demo?.problems ?? []).toEqual([]);
  demo = undefined;
});

async function open(options?: { autofill?: boolean }) {
  demo = await Demo.open(browser, origin, options);
  return demo;
}

type Account = { userId: string; username: string; passkeyId: string; token: string };
type SignedIn = Account & { signCount: number; credentialId: string };

describe("the page", () => {
  test("is served with a strict Content Security Policy, and the API next to it stays JSON", async () => {
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toContain("unsafe");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");

    const health = await fetch(`${origin}/api/v1/health`);
    expect(health.headers.get("content-type")).toMatch(/^application\/json/);
    expect(health.headers.get("content-security-policy")).toContain("default-src 'none'");
    const missing = await fetch(`${origin}/api/v1/no-such-route`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");

    const { page: tab } = await open();
    await expect(tab.title()).resolves.toContain("Passkey demo");
    await expect(tab.getAttribute("#username", "autocomplete")).resolves.toBe("username webauthn");
    await demo?.screenshot("01-welcome");
  });
});

describe("accounts", () => {
  test("sign up creates the account with a passkey on the authenticator and lists it", async () => {
    const page = await open();
    const username = uniqueUsername("ada");
    const account = await page.signUp(username);

    expect(account.username).toBe(username);
    await page.noticeMatching(/Account created/);
    await expect(page.page.textContent("#account-name")).resolves.toBe(username);
    await expect(page.passkeyNames()).resolves.toHaveLength(1);
    await expect(page.page.textContent("#passkeys .dates")).resolves.toMatch(/^Created .+ · never used$/);
    const [credential, ...others] = await page.credentialsOn();
    expect(others).toEqual([]);
    expect(credential?.isResidentCredential).toBe(true);
    expect(credential?.rpId).toBe("localhost");
    expect(credential?.userName).toBe(username);
    await page.screenshot("02-signed-up");
  });

  test("sign out, then sign in again with the username", async () => {
    const page = await open();
    const username = uniqueUsername("grace");
    const account = (await page.signUp(username)) as Account;

    await page.signOut();
    await page.noticeMatching(/signed out/);
    await expect(page.page.isVisible("#signed-in")).resolves.toBe(false);
    await page.screenshot("03-signed-out");

    const session = (await page.signInWithUsername(username)) as SignedIn;
    expect(session.userId).toBe(account.userId);
    expect(session.passkeyId).toBe(account.passkeyId);
    await expect(page.page.textContent("#account-name")).resolves.toBe(username);
    await expect(page.page.textContent("#passkeys .dates")).resolves.toMatch(/ · last used /);
    await page.screenshot("04-signed-in");
  });

  test("an unknown username gets a clear error (and no hint whether the account exists)", async () => {
    const page = await open();
    const username = uniqueUsername("nobody");
    await page.page.fill("#username", username);
    await page.page.click("#sign-in");
    const message = await page.noticeMatching(/no passkey for/);
    expect(message).toContain(username);
    await expect(page.page.isVisible("#signed-out")).resolves.toBe(true);
  });

  test("a cancelled prompt shows an error and leaves no account behind", async () => {
    const page = await open();
    const username = uniqueUsername("cancel");
    // The authenticator refuses user verification: Chromium rejects the ceremony (NotAllowedError),
    // just as when the user dismisses the prompt.
    await page.cdp.send("WebAuthn.setUserVerified", { authenticatorId: page.authenticatorId, isUserVerified: false });
    await page.page.fill("#username", username);
    await page.page.click("#sign-up");
    await page.noticeMatching(/cancelled/);
    await expect(page.page.isVisible("#signed-out")).resolves.toBe(true);
    await page.screenshot("05-cancelled");

    expect(await page.credentialsOn()).toEqual([]);
    // The name is still free: anyone may start a sign-up for it without a token.
    const free = await page.api("POST", "/api/v1/registration/challenge", { username });
    expect(free.status).toBe(200);

    // The same check once the account exists (so the check above could have failed).
    await page.cdp.send("WebAuthn.setUserVerified", { authenticatorId: page.authenticatorId, isUserVerified: true });
    await page.page.click("#sign-up");
    await page.signedIn();
    const taken = await page.api("POST", "/api/v1/registration/challenge", { username });
    expect(taken.status).toBe(409);
    expect(taken.body.error?.code).toBe("USERNAME_TAKEN");
  });

  test("deleting the account signs out and frees the username", async () => {
    const page = await open();
    const username = uniqueUsername("leaving");
    await page.signUp(username);
    await page.page.click("#delete-account");
    await page.noticeMatching(/account and its passkeys were deleted/);
    await expect(page.page.isVisible("#signed-out")).resolves.toBe(true);
    const free = await page.api("POST", "/api/v1/registration/challenge", { username });
    expect(free.status).toBe(200);
  });
});

describe("usernameless sign-in", () => {
  test("through browser autofill (conditional UI) on the username field", async () => {
    const page = await open({ autofill: true });
    // Records how the page calls WebAuthn; the real call goes through unchanged.
    await page.context.addInitScript(() => {
      const get = navigator.credentials.get.bind(navigator.credentials);
      const calls: string[] = [];
      Object.assign(window, { webauthnGetCalls: calls });
      navigator.credentials.get = (options) => {
        calls.push(options?.mediation ?? "optional");
        return get(options);
      };
    });
    const username = uniqueUsername("autofill");
    const account = (await page.signUp(username)) as Account;

    // A returning visitor: the page starts a usernameless autofill request as it loads, and
    // Chromium's virtual authenticator picks the passkey as a user would pick the suggestion.
    const challenge = page.page.waitForRequest((request) => request.url().endsWith("/api/v1/authentication/challenge"));
    const session = await page.responseTo<SignedIn>("/api/v1/authentication/verify", () => page.page.reload());
    expect((await challenge).postDataJSON()).toEqual({});
    expect(session.userId).toBe(account.userId);
    await page.signedIn();
    await expect(page.page.textContent("#account-name")).resolves.toBe(username);
    await expect(
      page.page.evaluate(() => (window as unknown as { webauthnGetCalls: string[] }).webauthnGetCalls),
    ).resolves.toEqual(["conditional"]);
  });

  test("with the passkey button (modal, discoverable credential)", async () => {
    const page = await open();
    const username = uniqueUsername("button");
    const account = (await page.signUp(username)) as Account;
    await page.signOut();

    const challenge = page.page.waitForRequest((request) => request.url().endsWith("/api/v1/authentication/challenge"));
    const session = await page.responseTo<SignedIn>("/api/v1/authentication/verify", () =>
      page.page.click("#sign-in-usernameless"),
    );
    expect((await challenge).postDataJSON()).toEqual({});
    expect(session.userId).toBe(account.userId);
    await page.signedIn();
    await expect(page.page.textContent("#account-name")).resolves.toBe(username);
  });
});

describe("managing passkeys", () => {
  test("add a second passkey, rename one and remove one", async () => {
    const page = await open();
    const username = uniqueUsername("keys");
    const account = (await page.signUp(username)) as Account;

    // This laptop already holds a passkey for the account: the browser refuses a second one.
    await page.page.click("#add-passkey");
    await page.noticeMatching(/already holds a passkey/);

    const securityKey = await page.plugInSecurityKey();
    await page.page.click("#add-passkey");
    await page.noticeMatching(/Passkey added/);
    await expect(page.passkeyNames()).resolves.toHaveLength(2);
    expect(await page.credentialsOn(securityKey)).toHaveLength(1);
    await page.screenshot("06-two-passkeys");

    // Rename the security key's passkey (the one without the "Current session" badge).
    const added = page.page
      .locator("#passkeys .passkey")
      .filter({ hasNot: page.page.locator(".badge", { hasText: "Current session" }) });
    await added.locator(".rename-button").click();
    await page.screenshot("07-renaming");
    await added.locator("input[name=name]").fill("Blue security key");
    await added.locator("button[type=submit]").click();
    await page.noticeMatching(/Passkey renamed/);
    await expect(page.passkeyNames()).resolves.toContain("Blue security key");
    await page.screenshot("08-renamed");
    const listed = await page.api<{ credentials: { id: string; name: string }[] }>(
      "GET",
      "/api/v1/credentials",
      undefined,
      account.token,
    );
    expect(listed.body.data.credentials.map((passkey) => passkey.name)).toContain("Blue security key");

    // Remove it (the page asks for confirmation; the test accepts). The server's answer carries
    // WebAuthn signals, which the page passes on: Chromium deletes the passkey from the key.
    const [onKey] = await page.credentialsOn(securityKey);
    await page.row("Blue security key").locator(".remove-button").click();
    await page.noticeMatching(/Passkey removed/);
    await expect(page.passkeyNames()).resolves.toHaveLength(1);
    await page.screenshot("09-after-remove");
    await expect.poll(() => page.credentialsOn(securityKey)).toEqual([]);

    // The last passkey cannot be removed: the server refuses and the page says why.
    await page.page.locator("#passkeys .remove-button").click();
    await page.noticeMatching(/only passkey/);
    await expect(page.passkeyNames()).resolves.toHaveLength(1);

    // A provider that ignored the signal still offers the removed passkey: the server refuses
    // it, and the page passes on the server's "unknown credential" signal once more.
    if (!onKey) throw new Error("the security key held no passkey");
    await page.cdp.send("WebAuthn.addCredential", { authenticatorId: securityKey, credential: onKey });
    await page.signOut();
    await page.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: page.authenticatorId });
    await page.page.click("#sign-in-usernameless");
    await page.noticeMatching(/not accepted/);
    await expect(page.page.isVisible("#signed-out")).resolves.toBe(true);
    await expect.poll(() => page.credentialsOn(securityKey)).toEqual([]);
  });
});

describe("the signature counter", () => {
  test("moves with every signature, and the server reports what the authenticator counted", async () => {
    const page = await open();
    const username = uniqueUsername("counter");
    await page.signUp(username);
    let previous = (await page.credentialsOn())[0]?.signCount ?? 0;

    for (let round = 0; round < 2; round += 1) {
      await page.signOut();
      const session = (await page.signInWithUsername(username)) as SignedIn;
      const [credential] = await page.credentialsOn();
      expect(credential?.signCount).toBeGreaterThan(previous);
      expect(session.signCount).toBe(credential?.signCount);
      previous = session.signCount;
    }
  });
});
