// The demo web app in real Chromium against `wrangler dev`, with a CDP virtual authenticator.
// Screenshots go to test-results/e2e/screenshots (docs/demo.md).
import type { Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from "vitest";
import "./support/provided-context";
import { launchChromium } from "./support/chromium.mjs";
import { Demo, errorAnswer, uniqueUsername } from "./support/demo";

const origin = inject("origin");
const adminKey = inject("adminKey");
let browser: Browser;
let demo: Demo | undefined;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(() => {
  const problems = demo?.problems ?? [];
  demo = undefined;
  // No CSP or Trusted Types violation and no uncaught error in any test.
  expect(problems).toEqual([]);
});

/** The account stored under this name, as an operator sees it through the admin API (or null). */
async function storedAccount(username: string) {
  const response = await fetch(`${origin}/api/v1/admin/users?prefix=${encodeURIComponent(username)}`, {
    headers: { authorization: `Bearer ${adminKey}` },
  });
  const body = (await response.json()) as {
    data: { users: { id: string; username: string; passkeyCount: number }[] };
  };
  if (!response.ok) throw new Error(`admin API answered ${response.status}`);
  return body.data.users.find((user) => user.username === username) ?? null;
}

async function open(options?: Parameters<typeof Demo.open>[2]) {
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
    await expect(page.page.textContent("#passkeys .dates")).resolves.toMatch(/^Created .+ · not used to sign in yet$/);
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

    // A real account whose owner cancels the prompt reads exactly the same, name aside.
    const known = uniqueUsername("known");
    await page.signUp(known);
    await page.signOut();
    await page.cdp.send("WebAuthn.setUserVerified", { authenticatorId: page.authenticatorId, isUserVerified: false });
    await page.page.fill("#username", known);
    await page.page.click("#sign-in");
    const knownMessage = await page.noticeMatching(/no passkey for/);
    expect(knownMessage.replace(known, "NAME")).toBe(message.replace(username, "NAME"));
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
    // The operator's view: no account under that name.
    expect(await storedAccount(username)).toBeNull();

    // The same check once the account exists (so the check above could have failed).
    await page.cdp.send("WebAuthn.setUserVerified", { authenticatorId: page.authenticatorId, isUserVerified: true });
    await page.page.click("#sign-up");
    await page.signedIn();
    expect(await storedAccount(username)).toMatchObject({ username, passkeyCount: 1 });
  });

  test("deleting the account signs out and frees the username", async () => {
    const page = await open();
    const username = uniqueUsername("leaving");
    await page.signUp(username);
    await page.page.click("#delete-account");
    await expect(page.choose("Delete account")).resolves.toContain("cannot be undone");
    await page.noticeMatching(/account and its passkeys were deleted/);
    await expect(page.page.isVisible("#signed-out")).resolves.toBe(true);
    const free = await page.api("POST", "/api/v1/registration/challenge", { username });
    expect(free.status).toBe(200);
  });
});

describe("sessions end and account changes step up (issue 11)", () => {
  test("Sign out ends the session on the server: its token is refused afterwards", async () => {
    const page = await open();
    const account = (await page.signUp(uniqueUsername("leaver"))) as Account;
    expect((await page.api("GET", "/api/v1/me", undefined, account.token)).status).toBe(200);
    const ended = await page.responseTo("/api/v1/session", () => page.signOut());
    expect(ended).toEqual({ signedOut: true });
    await page.noticeMatching(/signed out/);
    const refused = await page.api("GET", "/api/v1/me", undefined, account.token);
    expect(refused.status).toBe(401);
  });

  test("a change the server wants a fresh verified sign-in for: the demo signs in again with UV and retries", async () => {
    const page = await open();
    const first = (await page.signUp(uniqueUsername("stepper"))) as Account;
    // The server's answer to a session whose sign-in did not verify the user, or was too long ago.
    let refusals = 0;
    await page.page.route("**/api/v1/me", async (route) => {
      if (route.request().method() === "DELETE" && refusals++ === 0) {
        return route.fulfill(errorAnswer(403, "REAUTHENTICATION_REQUIRED", "Sign in again with user verification"));
      }
      return route.continue();
    });
    const signInRequest = page.page.waitForRequest((request) =>
      request.url().endsWith("/api/v1/authentication/challenge"),
    );
    const deletions: string[] = [];
    page.page.on("request", (request) => {
      if (request.method() === "DELETE" && request.url().endsWith("/api/v1/me")) {
        deletions.push(request.headers().authorization ?? "");
      }
    });
    await page.page.click("#delete-account");
    await page.choose("Delete account");
    expect((await signInRequest).postDataJSON()).toEqual({ username: first.username, userVerification: "required" });
    await page.noticeMatching(/account and its passkeys were deleted/);
    // Refused once with the first session's token, then done with the new session's.
    expect(deletions).toHaveLength(2);
    expect(deletions[0]).toBe(`Bearer ${first.token}`);
    expect(deletions[1]).toMatch(/^Bearer /);
    expect(deletions[1]).not.toBe(deletions[0]);
    expect(await storedAccount(first.username)).toBeNull();
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

  test("backs off, never loops, while the server cannot start a sign-in", async () => {
    let challenges = 0;
    const page = await open({
      autofill: true,
      beforeLoad: (context) =>
        context.route("**/api/v1/authentication/challenge", (route) => {
          challenges += 1;
          return route.fulfill(errorAnswer(503, "SERVICE_UNAVAILABLE", "Request limits cannot be checked right now"));
        }),
    });
    // Three seconds of an unavailable server: the first offer and at most one retry (after 2 s),
    // where a loop would have sent hundreds. Counts, not timings, are what is checked.
    await page.page.waitForTimeout(3_000);
    expect(challenges).toBeGreaterThanOrEqual(1);
    expect(challenges).toBeLessThanOrEqual(2);
    // Nothing the user did failed: no banner, and the page stays usable.
    await expect(page.page.isVisible("#notice")).resolves.toBe(false);
    await expect(page.page.isEnabled("#sign-in")).resolves.toBe(true);
  });

  test("a first visit without a passkey on the device shows no error", async () => {
    let refusals = 0;
    const page = await open({
      autofill: true,
      // Some browsers answer the background request at once with NotAllowedError when they hold
      // no passkey for the site (Chromium's virtual authenticator would wait instead).
      beforeLoad: (context) =>
        context.exposeFunction("countRefusal", () => {
          refusals += 1;
        }),
    });
    await page.context.addInitScript(() => {
      const get = navigator.credentials.get.bind(navigator.credentials);
      navigator.credentials.get = async (options) => {
        if (options?.mediation !== "conditional") return get(options);
        await (window as unknown as { countRefusal: () => Promise<void> }).countRefusal();
        throw new DOMException("No passkey for this site", "NotAllowedError");
      };
    });
    await page.page.reload();
    await expect.poll(() => refusals).toBeGreaterThanOrEqual(1);
    // The user did nothing: no banner, although the background request failed.
    await expect(page.page.isVisible("#notice")).resolves.toBe(false);
    await expect(page.page.isVisible("#signed-out")).resolves.toBe(true);
  });

  test("a failing background request never replaces the outcome of the user's own action", async () => {
    let challenges = 0;
    const page = await open({
      autofill: true,
      beforeLoad: async (context) => {
        await context.route("**/api/v1/authentication/challenge", (route) => {
          challenges += 1;
          return route.fulfill(errorAnswer(503, "SERVICE_UNAVAILABLE", "Request limits cannot be checked right now"));
        });
        await context.route("**/api/v1/registration/challenge", (route) =>
          route.fulfill(errorAnswer(409, "USERNAME_TAKEN", "That username is taken")),
        );
      },
    });
    await page.page.fill("#username", uniqueUsername("taken"));
    await page.page.click("#sign-up");
    await page.noticeMatching(/username is taken/);
    // Autofill starts again after the button's ceremony, and fails again (its retry comes after 2 s).
    const before = challenges;
    await page.page.waitForTimeout(2_500);
    expect(challenges).toBeGreaterThan(before);
    await page.noticeMatching(/username is taken/);
  });

  test("after Sign out, autofill waits for the user instead of signing straight back in", async () => {
    const page = await open({ autofill: true });
    const account = (await page.signUp(uniqueUsername("signout"))) as Account;
    let challenges = 0;
    page.page.on("request", (request) => {
      if (request.url().endsWith("/api/v1/authentication/challenge")) challenges += 1;
    });
    await page.signOut();
    // Chromium's virtual authenticator answers any autofill request at once, as some passkey
    // providers do: had the page offered passkeys, it would be signed in again by now.
    await page.page.waitForTimeout(1_500);
    expect(challenges).toBe(0);
    await expect(page.page.isVisible("#signed-out")).resolves.toBe(true);
    await page.noticeMatching(/You are signed out/);
    // Back in the username field, the user is offered their passkeys again.
    const session = await page.responseTo<SignedIn>("/api/v1/authentication/verify", () =>
      page.page.focus("#username"),
    );
    expect(session.userId).toBe(account.userId);
    await page.signedIn();
  });

  test("offers passkeys again after the server refuses one, without looping", async () => {
    const page = await open({ autofill: true });
    await page.signUp(uniqueUsername("refused"));
    // From here the server refuses every passkey (as it would one removed elsewhere), and the
    // virtual authenticator picks its passkey again as soon as autofill offers it.
    let verifies = 0;
    await page.context.route("**/api/v1/authentication/verify", (route) => {
      verifies += 1;
      return route.fulfill(errorAnswer(401, "AUTHENTICATION_FAILED", "Authentication failed"));
    });
    await page.signOut();
    await page.page.focus("#username");
    // The user picked a passkey, so the server's refusal is theirs to see.
    await page.noticeMatching(/not accepted/);
    // It offers again (after 2 s), then waits longer: two or three picks in four seconds, not hundreds.
    await page.page.waitForTimeout(4_000);
    expect(verifies).toBeGreaterThanOrEqual(2);
    expect(verifies).toBeLessThanOrEqual(3);
    await expect(page.page.isVisible("#signed-out")).resolves.toBe(true);
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

describe("what the server refuses, in words a user can act on", () => {
  test("an origin outside RP_ORIGINS is named, with the setting to change", async () => {
    const refused = "http://localhost:8931";
    const page = await open({
      beforeLoad: (context) =>
        context.route("**/api/v1/registration/verify", (route) =>
          route.fulfill(
            errorAnswer(400, "REGISTRATION_FAILED", `Registration failed: the origin ${refused} is not allowed`, {
              origin: refused,
              setting: "RP_ORIGINS",
            }),
          ),
        ),
    });
    await page.page.fill("#username", uniqueUsername("port"));
    await page.page.click("#sign-up");
    const said = await page.noticeMatching(/does not accept passkeys from this page's origin/);
    expect(said).toContain(refused);
    expect(said).toContain("RP_ORIGINS");
  });

  test("a configuration error reads as a misconfigured server, not as schema text", async () => {
    const page = await open({
      beforeLoad: (context) =>
        context.route("**/api/v1/registration/challenge", (route) =>
          route.fulfill(
            errorAnswer(500, "CONFIGURATION_ERROR", "Invalid configuration: RP_ID: must be a bare domain", {
              variables: ["RP_ID"],
            }),
          ),
        ),
    });
    await page.page.fill("#username", uniqueUsername("config"));
    await page.page.click("#sign-up");
    const said = await page.noticeMatching(/server is misconfigured/);
    expect(said).not.toContain("Invalid configuration");
  });
});

describe("phone screens", () => {
  test.each([320, 360, 390])(
    "the signed-out view fits %i px: nothing wider than the screen, no text out of its button",
    async (width) => {
      const page = await open({ viewport: { width, height: 700 } });
      const layoutProblems = () =>
        page.page.evaluate(() => {
          const problems: string[] = [];
          const overflow = document.documentElement.scrollWidth - window.innerWidth;
          if (overflow > 0) problems.push(`page ${overflow}px wider than the screen`);
          for (const button of document.querySelectorAll<HTMLButtonElement>("#signed-out button, #notice")) {
            if (button.scrollWidth > button.clientWidth)
              problems.push(`text out of ${button.id || button.textContent}`);
            if (button.getBoundingClientRect().right > window.innerWidth) problems.push(`${button.id} off screen`);
          }
          return problems;
        });
      expect(await layoutProblems()).toEqual([]);
      // With a notice shown above the form too.
      await page.page.click("#sign-in");
      await page.noticeMatching(/Enter your username/);
      expect(await layoutProblems()).toEqual([]);
      await page.screenshot(`13-phone-${width}-signed-out`);
    },
  );
});

describe("managing passkeys", () => {
  test("removing the passkey of the current session signs out, and that passkey no longer works", async () => {
    const page = await open();
    const username = uniqueUsername("current");
    const account = (await page.signUp(username)) as Account;
    await page.plugInSecurityKey();
    await page.page.click("#add-passkey");
    await page.noticeMatching(/Passkey added/);

    await page.row("Current session").locator(".remove-button").click();
    await expect(page.choose("Remove")).resolves.toContain("you will be signed out");
    await page.noticeMatching(/signed out now/);
    await expect(page.page.isVisible("#signed-out")).resolves.toBe(true);
    // The session token spoke for the removed passkey: the server refuses it too.
    const me = await page.api("GET", "/api/v1/me", undefined, account.token);
    expect(me.status).toBe(401);
    expect(await storedAccount(username)).toMatchObject({ passkeyCount: 1 });
  });

  test("fits a phone's screen", async () => {
    const page = await open({ viewport: { width: 375, height: 740 } });
    // Long names without a space or hyphen to break at.
    await page.signUp(uniqueUsername("averyveryverylongusernameonaphone"));
    await page.plugInSecurityKey();
    await page.page.click("#add-passkey");
    await page.noticeMatching(/Passkey added/);
    const row = page.page.locator("#passkeys .passkey").last();
    await row.locator(".rename-button").click();
    // While renaming, the row's own buttons are hidden: nothing covers Save and Cancel.
    await expect(row.locator(".rename-button").isVisible()).resolves.toBe(false);
    await expect(row.locator(".remove-button").isVisible()).resolves.toBe(false);
    await row.locator("input[name=name]").fill("MyVeryOwnHardwareSecurityKeyFromTheTopDrawerOfMyDesk");
    await page.screenshot("11-phone-renaming");
    await row.locator("button[type=submit]").click();
    await page.noticeMatching(/Passkey renamed/);

    // Nothing overflows the viewport; the buttons and the badge keep their words on one line.
    const overflow = await page.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const linesOfText = (selector: string) =>
      page.page
        .locator(selector)
        .first()
        .evaluate((node) => {
          const text = document.createRange();
          text.selectNodeContents(node);
          return new Set([...text.getClientRects()].map((line) => Math.round(line.top))).size;
        });
    for (const selector of ["#sign-out", ".badge", ".rename-button", ".remove-button"]) {
      expect(await linesOfText(selector), selector).toBe(1);
    }
    await page.screenshot("12-phone");

    await row.locator(".rename-button").click();
    await row.locator(".cancel").click();
    await expect(row.locator(".rename-button").isVisible()).resolves.toBe(true);
  });

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
    // A name of spaces only is no name: the page asks for one and keeps the form open.
    await added.locator("input[name=name]").fill("   ");
    await added.locator("button[type=submit]").click();
    await page.noticeMatching(/Give the passkey a name/);
    await expect(added.locator("input[name=name]").isVisible()).resolves.toBe(true);
    await added.locator("input[name=name]").fill("Blue security key");
    await added.locator("button[type=submit]").click();
    await page.noticeMatching(/Passkey renamed/);
    await expect(page.passkeyNames()).resolves.toContain("Blue security key");
    await page.screenshot("08-renamed");
    // docs/images/demo.png is a copy of this one.
    await page.screenshot("demo-card", { cropToApp: true });
    const listed = await page.api<{ credentials: { id: string; name: string }[] }>(
      "GET",
      "/api/v1/credentials",
      undefined,
      account.token,
    );
    expect(listed.body.data.credentials.map((passkey) => passkey.name)).toContain("Blue security key");

    // Remove it (the page asks in its own dialog; the test confirms). The server's answer carries
    // WebAuthn signals, which the page passes on: Chromium deletes the passkey from the key.
    const [onKey] = await page.credentialsOn(securityKey);
    await page.row("Blue security key").locator(".remove-button").click();
    await page.screenshot("14-confirm-remove");
    await page.choose("Remove");
    await page.noticeMatching(/Passkey removed/);
    await expect(page.passkeyNames()).resolves.toHaveLength(1);
    await page.screenshot("09-after-remove");
    await expect.poll(() => page.credentialsOn(securityKey)).toEqual([]);

    // The last passkey cannot be removed (the server would answer 409 LAST_PASSKEY): instead of
    // asking to confirm, the page says what is possible, and asks the server nothing.
    const deletes: string[] = [];
    page.page.on("request", (request) => {
      if (request.method() === "DELETE") deletes.push(request.url());
    });
    await page.page.locator("#passkeys .remove-button").click();
    const said = await page.choose("Cancel");
    expect(said).toContain("only passkey");
    expect(said).toContain("Add another passkey first");
    expect(said).toContain("delete your account");
    expect(deletes).toEqual([]);
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
  test("moves with every signature, is stored by the server, and a step back is refused", async () => {
    const page = await open();
    const username = uniqueUsername("counter");
    const account = (await page.signUp(username)) as Account;
    let previous = (await page.credentialsOn())[0]?.signCount ?? 0;

    for (let round = 0; round < 2; round += 1) {
      await page.signOut();
      const session = (await page.signInWithUsername(username)) as SignedIn;
      const [credential] = await page.credentialsOn();
      expect(credential?.signCount).toBeGreaterThan(previous);
      expect(session.signCount).toBe(credential?.signCount);
      previous = session.signCount;
    }

    // A copy of the passkey whose counter is behind (as a cloned authenticator's would be): its
    // next signature carries previous - 1, more than the counter at sign-up, less than the last
    // sign-in's. Only a server that stored the counter of each sign-in can tell, and must refuse.
    const [credential] = await page.credentialsOn();
    if (!credential) throw new Error("no passkey on the authenticator");
    await page.cdp.send("WebAuthn.removeCredential", {
      authenticatorId: page.authenticatorId,
      credentialId: credential.credentialId,
    });
    await page.cdp.send("WebAuthn.addCredential", {
      authenticatorId: page.authenticatorId,
      credential: { ...credential, signCount: previous - 2 },
    });
    expect(previous - 2).toBeGreaterThanOrEqual(0);
    await page.signOut();
    await page.page.fill("#username", username);
    const refused = page.page.waitForResponse((response) => response.url().endsWith("/api/v1/authentication/verify"));
    await page.page.click("#sign-in");
    expect((await refused).status()).toBe(401);
    await page.noticeMatching(/not accepted/);
    await expect(page.page.isVisible("#signed-out")).resolves.toBe(true);
    // …and the passkey is flagged for its owner to see.
    const listed = await fetch(`${origin}/api/v1/admin/users/${account.userId}`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    const detail = (await listed.json()) as { data: { credentials: { flag: string | null }[] } };
    expect(detail.data.credentials.map((passkey) => passkey.flag)).toEqual(["clone_suspected"]);
  });
});
