// One browser tab on the demo with a CDP WebAuthn virtual authenticator attached: the
// platform authenticator of a laptop (CTAP2, internal transport, resident keys, user
// verification), answering prompts on its own. Tests drive the page as a user would.
import type { Browser, BrowserContext, CDPSession, Page } from "playwright-core";
import { onTestFinished } from "vitest";
import { screenshotDir } from "./chromium.mjs";

export type DemoOptions = {
  /**
   * false: the page sees a browser without conditional mediation (autofill), so it never
   * starts an autofill request. Chromium's virtual authenticator answers such a request by
   * itself at once, which would sign a signed-out page straight back in.
   */
  autofill?: boolean;
  /** The window size; the default is a laptop's. */
  viewport?: { width: number; height: number };
  /** Runs before the page first loads (e.g. to route requests). */
  beforeLoad?: (context: BrowserContext) => Promise<unknown>;
};

type ApiEnvelope<T> = { status: "ok" | "error"; data: T; error?: { code: string; message: string } };

export class Demo {
  /** Console errors (CSP and Trusted Types violations are reported there) and uncaught page errors. */
  readonly problems: string[] = [];

  private constructor(
    readonly origin: string,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly cdp: CDPSession,
    /** The platform (internal) authenticator. */
    readonly authenticatorId: string,
  ) {}

  static async open(
    browser: Browser,
    origin: string,
    { autofill = false, viewport = { width: 900, height: 760 }, beforeLoad }: DemoOptions = {},
  ): Promise<Demo> {
    const context = await browser.newContext({ viewport });
    onTestFinished(() => context.close());
    // Everything here answers within a second or two; fail fast rather than at the test timeout.
    context.setDefaultTimeout(10_000);
    if (!autofill) {
      await context.addInitScript(() => {
        PublicKeyCredential.isConditionalMediationAvailable = async () => false;
      });
    }
    await beforeLoad?.(context);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    const demo = new Demo(origin, context, page, cdp, authenticatorId);
    page.on("console", (message) => {
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
        demo.problems.push(message.text());
      }
    });
    page.on("pageerror", (error) => demo.problems.push(`uncaught: ${error.message}`));
    // The page asks with its own dialog (Demo.choose); a native confirm() or alert() is a defect.
    page.on("dialog", (dialog) => {
      demo.problems.push(`native ${dialog.type()} dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await page.goto(origin);
    await page.locator("#signed-out").waitFor();
    return demo;
  }

  /** A roaming security key (CTAP2 over USB) plugged in next to the platform authenticator. */
  async plugInSecurityKey(): Promise<string> {
    const { authenticatorId } = await this.cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "usb",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    return authenticatorId;
  }

  async credentialsOn(authenticatorId = this.authenticatorId) {
    return (await this.cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
  }

  async signUp(username: string) {
    await this.page.fill("#username", username);
    const account = await this.responseTo("/api/v1/registration/verify", () => this.page.click("#sign-up"));
    await this.signedIn();
    return account;
  }

  async signOut() {
    await this.page.click("#sign-out");
    await this.page.locator("#signed-out").waitFor();
  }

  async signInWithUsername(username: string) {
    await this.page.fill("#username", username);
    const session = await this.responseTo("/api/v1/authentication/verify", () => this.page.click("#sign-in"));
    await this.signedIn();
    return session;
  }

  /** Waits for the signed-in view with its passkey list loaded and the buttons usable again. */
  async signedIn() {
    await this.page.locator("#signed-in").waitFor();
    await this.passkeyNames();
    await this.page.locator("#sign-out:enabled").waitFor();
  }

  /** Waits until the notice says something matching `text`, and returns all it says. */
  async noticeMatching(text: RegExp): Promise<string> {
    const notice = this.page.locator("#notice", { hasText: text });
    await notice.waitFor();
    return (await notice.textContent()) ?? "";
  }

  /** Waits for the page's own dialog, clicks the button labelled `label`, and returns what the dialog said. */
  async choose(label: string): Promise<string> {
    const dialog = this.page.locator("#dialog[open]");
    await dialog.waitFor();
    const text = (await dialog.textContent()) ?? "";
    await dialog.getByRole("button", { name: label, exact: true }).click();
    await this.page.locator("#dialog[open]").waitFor({ state: "detached" });
    return text;
  }

  /** The names in the passkey list, once it shows at least one. */
  async passkeyNames(): Promise<string[]> {
    await this.page.locator("#passkeys .passkey").first().waitFor();
    return this.page
      .locator("#passkeys .passkey-name")
      .evaluateAll((names) => names.map((name) => name.firstChild?.textContent ?? ""));
  }

  row(name: string) {
    return this.page.locator("#passkeys .passkey").filter({
      has: this.page.locator(".passkey-name", { hasText: name }),
    });
  }

  /** Runs `action` and returns the `data` of the API response to `path` it caused (2xx only). */
  async responseTo<T = Record<string, unknown>>(path: string, action: () => Promise<unknown>): Promise<T> {
    const [response] = await Promise.all([
      this.page.waitForResponse((candidate) => new URL(candidate.url()).pathname === path),
      action(),
    ]);
    const body = (await response.json()) as ApiEnvelope<T>;
    if (!response.ok()) throw new Error(`${path}: ${response.status()} ${JSON.stringify(body.error)}`);
    return body.data;
  }

  /** Calls the API directly (outside the page), as an app backend or curl would. */
  async api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, token?: string) {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(`${this.origin}${path}`, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as ApiEnvelope<T> };
  }

  /**
   * Saves the page as it looks at rest (no hover state on whatever the last click hit). The
   * whole page, or with `cropToApp` only the masthead and the card, with a margin around them.
   */
  async screenshot(name: string, { cropToApp = false } = {}) {
    await this.page.mouse.move(0, 0);
    const clip = cropToApp
      ? await this.page.evaluate(() => {
          const boxes = [...document.querySelectorAll(".masthead, main")].map((part) => part.getBoundingClientRect());
          const margin = 20;
          const left = Math.min(...boxes.map((box) => box.left)) - margin;
          const top = Math.min(...boxes.map((box) => box.top)) - margin;
          const right = Math.max(...boxes.map((box) => box.right)) + margin;
          const bottom = Math.max(...boxes.map((box) => box.bottom)) + margin;
          return { x: left + window.scrollX, y: top + window.scrollY, width: right - left, height: bottom - top };
        })
      : undefined;
    await this.page.screenshot({
      path: `${screenshotDir}/${name}.png`,
      fullPage: true,
      animations: "disabled",
      ...(clip && { clip }),
    });
  }
}

/** A response in the server's error envelope, for `route.fulfill` when a test stands in for the server. */
export function errorAnswer(status: number, code: string, message: string, details?: unknown) {
  return {
    status,
    contentType: "application/json",
    body: JSON.stringify({ status: "error", error: { code, message, details }, timestamp: new Date().toISOString() }),
  };
}

let counter = 0;
/** A username no other test (or earlier run against the same server) has used. */
export function uniqueUsername(prefix = "user"): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}
