// The demo page: wires the passkey calls in passkeys.ts to the two views of index.html.
import { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill } from "@simplewebauthn/browser";
import { ApiError } from "./api";
import { type Action, describeError, isAborted } from "./messages";
import {
  addPasskey,
  deleteAccount,
  signOut as endSession,
  listPasskeys,
  type Passkey,
  pickPasskeyInAutofill,
  removePasskey,
  renamePasskey,
  type Session,
  signIn,
  signInAgainVerified,
  signUp,
  syncPasskeysWithBrowser,
  verifySignIn,
} from "./passkeys";

const element = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const notice = element("notice");
const signedOutView = element("signed-out");
const signedInView = element("signed-in");
const usernameInput = element<HTMLInputElement>("username");
const passkeyList = element<HTMLUListElement>("passkeys");
const passkeyRow = element<HTMLTemplateElement>("passkey-row");
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

// Kept in memory only, so a reload signs out (autofill signs back in with one tap). A real
// app sends session.token to its backend, which verifies it with /.well-known/jwks.json.
let session: Session | null = null;

function showNotice(text: string, kind: "error" | "success" = "error") {
  notice.textContent = text;
  notice.dataset.kind = kind;
  notice.hidden = false;
}

/** One user action: buttons are disabled meanwhile and a failure becomes a notice. */
async function run(action: Action, task: () => Promise<void>, username?: string) {
  notice.hidden = true;
  for (const button of document.querySelectorAll("button")) button.disabled = true;
  try {
    await task();
  } catch (error) {
    if (isAborted(error)) return;
    showNotice(describeError(error, action, username));
    if (error instanceof ApiError && error.code === "UNAUTHORIZED") showSignedOut();
  } finally {
    for (const button of document.querySelectorAll("button")) button.disabled = false;
  }
}

/** Sign-up and sign-in buttons; while signed out, autofill keeps offering passkeys. */
async function signedOutAction(action: Action, ceremony: () => Promise<Session>, username?: string) {
  await run(action, async () => showSignedIn(await ceremony()), username);
  if (!session) startAutofill();
}

// Autofill runs in the background while signed out, one request at a time. Each offer has a
// number, so a retry scheduled for an offer the page has since replaced does nothing.
let autofillOffer = 0;
let autofillFailures = 0;
// After a sign-out, autofill waits for the user to come back to the username field: a passkey
// provider that answers at once (some do; Chromium's virtual authenticator always does) would
// otherwise sign the user straight back in.
let autofillAfterFocus = false;

/** A fresh start after something the user did (signing out, a button's ceremony). */
function startAutofill() {
  autofillFailures = 0;
  autofillOffer += 1;
  if (!autofillAfterFocus) {
    void offerPasskeysInAutofill();
    return;
  }
  const offer = autofillOffer;
  usernameInput.addEventListener(
    "focus",
    () => {
      if (offer !== autofillOffer || session) return;
      autofillAfterFocus = false;
      void offerPasskeysInAutofill();
    },
    { once: true },
  );
}

async function offerPasskeysInAutofill() {
  const offer = ++autofillOffer;
  if (!(await browserSupportsWebAuthnAutofill())) return;
  let picked: Awaited<ReturnType<typeof pickPasskeyInAutofill>>;
  try {
    picked = await pickPasskeyInAutofill();
  } catch (error) {
    // Before a pick nothing is the user's doing (no passkey on this device, the server briefly
    // unavailable): never a banner, which could also hide the outcome of the user's own action.
    if (isAborted(error) || offer !== autofillOffer || session) return;
    console.info("Passkey autofill is not offered right now:", describeError(error, "sign-in"));
    retryAutofillLater(offer, error);
    return;
  }
  // The user picked a passkey: from here it is their sign-in, reported like a button's.
  try {
    const signedIn = await verifySignIn(picked);
    autofillFailures = 0;
    await run("sign-in", () => showSignedIn(signedIn));
  } catch (error) {
    if (offer !== autofillOffer || session) return;
    showNotice(describeError(error, "sign-in"));
    retryAutofillLater(offer, error);
  }
}

function retryAutofillLater(offer: number, error: unknown) {
  const waitMs = autofillRetryDelay(error);
  if (waitMs === null) return;
  setTimeout(() => {
    if (offer === autofillOffer && !session) void offerPasskeysInAutofill();
  }, waitMs);
}

/**
 * How long to wait before offering passkeys in autofill again after `error`, or null when a
 * new attempt would fail the same way. Failures in a row double the wait (2 s, 4 s, … 1 min),
 * so no failure, the server's or the user's, can turn autofill into a loop of requests.
 */
function autofillRetryDelay(error: unknown): number | null {
  autofillFailures += 1;
  const backoffMs = Math.min(2_000 * 2 ** (autofillFailures - 1), 60_000);
  if (error instanceof ApiError) {
    // The server refused the passkey picked (say, one removed elsewhere), or the challenge
    // expired meanwhile: the user may pick again.
    if (error.code === "AUTHENTICATION_FAILED" || error.code === "INVALID_CHALLENGE") return backoffMs;
    // Down or rate limited: it may recover, not before its Retry-After.
    if (error.status === 429 || error.status >= 500) {
      return Math.max((error.retryAfterSeconds ?? 0) * 1000, backoffMs);
    }
    return null;
  }
  // The prompt was cancelled after a pick, or the server could not be reached.
  if (error instanceof TypeError || (error instanceof Error && error.name === "NotAllowedError")) return backoffMs;
  return null;
}

async function showSignedIn(signedIn: Session) {
  session = signedIn;
  autofillOffer += 1;
  usernameInput.value = "";
  element("account-name").textContent = signedIn.username;
  signedOutView.hidden = true;
  signedInView.hidden = false;
  // Best effort, in the background: lets the browser drop passkeys removed elsewhere.
  void syncPasskeysWithBrowser(signedIn).catch(() => undefined);
  await showPasskeys();
}

/** The session has ended (signed out, its passkey removed, the account deleted, expired). */
function showSignedOut() {
  session = null;
  passkeyList.replaceChildren();
  signedInView.hidden = true;
  signedOutView.hidden = false;
  autofillAfterFocus = true;
  startAutofill();
}

/** "Sign out": the one place that ends a session on the user's request. */
async function signOut() {
  await run("manage", async () => {
    const ending = session;
    showSignedOut();
    // The server refuses the token from now on; if it cannot be reached, the token still
    // ends at its expiry (it lives only in this page's memory either way).
    const ended = ending
      ? await endSession(ending).then(
          () => true,
          () => false,
        )
      : true;
    showNotice(ended ? "You are signed out." : "You are signed out on this page.", "success");
  });
}

async function showPasskeys() {
  if (!session) return;
  const passkeys = await listPasskeys(session);
  passkeyList.replaceChildren(...passkeys.map((passkey) => passkeyItem(passkey, passkeys)));
}

function passkeyItem(passkey: Passkey, all: Passkey[]): HTMLLIElement {
  const item = passkeyRow.content.firstElementChild?.cloneNode(true) as HTMLLIElement;
  const part = <T extends HTMLElement = HTMLElement>(selector: string) => item.querySelector(selector) as T;
  const nameLine = part(".passkey-name");
  const renameForm = part<HTMLFormElement>(".rename");
  const actions = part(".passkey-actions");
  const nameInput = renameForm.elements.namedItem("name") as HTMLInputElement;

  item.dataset.passkeyId = passkey.id;
  // The authenticator's own icon when the server knows it (from FIDO metadata), else ours.
  const icon = passkey.authenticator.icon;
  if (icon?.startsWith("data:image/")) part<HTMLImageElement>(".passkey-icon").src = icon;
  nameLine.append(passkey.name);
  if (passkey.id === session?.passkeyId) nameLine.append(badge("Current session"));
  if (!passkey.isActive) nameLine.append(badge("Disabled"));
  if (passkey.flag) nameLine.append(badge("Flagged: check this authenticator"));
  const backup = passkey.backedUp ? "synced" : passkey.backupEligible ? "not backed up yet" : "this device only";
  metaLine(part(".authenticator"), passkey.authenticator.name ?? "Unknown authenticator", backup);
  // A passkey created at sign-up (or added) has not signed anyone in yet: say exactly that.
  const lastUsed = passkey.lastUsedAt
    ? `last used ${dateFormat.format(new Date(passkey.lastUsedAt))}`
    : "not used to sign in yet";
  metaLine(part(".dates"), `Created ${dateFormat.format(new Date(passkey.createdAt))}`, lastUsed);

  part(".rename-button").addEventListener("click", () => {
    renameForm.hidden = false;
    nameLine.hidden = true;
    actions.hidden = true;
    nameInput.value = passkey.name;
    nameInput.select();
  });
  part(".cancel").addEventListener("click", () => {
    renameForm.hidden = true;
    nameLine.hidden = false;
    actions.hidden = false;
  });
  renameForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (name === passkey.name) return part<HTMLButtonElement>(".cancel").click();
    if (!name) return showNotice("Give the passkey a name, or cancel.");
    void run("manage", async () => {
      if (!session) return;
      await renamePasskey(session, passkey, name);
      await showPasskeys();
      showNotice("Passkey renamed.", "success");
    });
  });
  part(".remove-button").addEventListener("click", async () => {
    // The server keeps at least one active passkey per account (409 LAST_PASSKEY): say what is
    // possible instead of asking to confirm something it will refuse.
    if (passkey.isActive && !all.some((other) => other.id !== passkey.id && other.isActive)) {
      const choice = await ask(
        "This is your only passkey",
        `Without “${passkey.name}” you could never sign in again, so it cannot be removed. Add another passkey first (then remove this one), or delete your account.`,
        [
          { value: "add", label: "Add a passkey", kind: "primary" },
          { value: "delete", label: "Delete account", kind: "danger" },
        ],
      );
      if (choice === "add") element("add-passkey").click();
      if (choice === "delete") element("delete-account").click();
      return;
    }
    // The session speaks for the passkey it signed in with: removing that one signs out.
    const current = passkey.id === session?.passkeyId;
    const consequence = current ? " You signed in with it, so you will be signed out." : "";
    const choice = await ask(
      `Remove “${passkey.name}”?`,
      `You will no longer be able to sign in with it.${consequence}`,
      [{ value: "remove", label: "Remove", kind: "danger" }],
    );
    if (choice !== "remove") return;
    void run("manage", async () => {
      await withRecentVerification((fresh) => removePasskey(fresh, passkey));
      if (passkey.id === session?.passkeyId) {
        showSignedOut();
        showNotice("Passkey removed. You signed in with it, so you are signed out now.", "success");
        return;
      }
      await showPasskeys();
      showNotice("Passkey removed.", "success");
    });
  });
  return item;
}

type Choice = { value: string; label: string; kind: "primary" | "danger" };

/**
 * The page's own dialog (not the browser's confirm()): a question, its choices and Cancel.
 * Resolves with the chosen value, or "cancel" (the Cancel button or Escape).
 */
function ask(title: string, text: string, choices: Choice[]): Promise<string> {
  const dialog = element<HTMLDialogElement>("dialog");
  element("dialog-title").textContent = title;
  element("dialog-text").textContent = text;
  const buttons = choices.map(({ value, label, kind }) => {
    const button = document.createElement("button");
    button.value = value;
    button.textContent = label;
    button.className = kind;
    return button;
  });
  const cancel = document.createElement("button");
  cancel.value = "cancel";
  cancel.textContent = "Cancel";
  element("dialog-actions").replaceChildren(cancel, ...buttons);
  dialog.returnValue = "cancel";
  dialog.showModal();
  cancel.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue || "cancel"), { once: true });
  });
}

/** "first · second", wrapping between the two parts rather than inside one. */
function metaLine(line: HTMLElement, ...parts: string[]) {
  const spans = parts.map((text) => {
    const span = document.createElement("span");
    span.textContent = text;
    return span;
  });
  line.replaceChildren(...spans.flatMap((span, i) => (i === 0 ? [span] : [" · ", span])));
}

function badge(text: string): HTMLSpanElement {
  const span = document.createElement("span");
  span.className = "badge";
  span.textContent = text;
  return span;
}

element("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const username = usernameInput.value.trim();
  if (!username) return showNotice("Enter your username, or sign in without one below.");
  void signedOutAction("sign-in", () => signIn(username), username);
});

element("sign-up").addEventListener("click", () => {
  const username = usernameInput.value.trim();
  if (!username) return showNotice("Choose a username for your new account.");
  void signedOutAction(
    "sign-up",
    async () => {
      const created = await signUp(username);
      showNotice("Account created. Your passkey is saved on this device.", "success");
      return created;
    },
    username,
  );
});

element("sign-in-usernameless").addEventListener("click", () => {
  void signedOutAction("sign-in", () => signIn());
});

element("sign-out").addEventListener("click", () => {
  void signOut();
});

/**
 * Runs an account change; when the server asks for a fresh verified sign-in first (403
 * REAUTHENTICATION_REQUIRED: the session's sign-in did not verify the user, or was too long
 * ago), asks for one with the passkey prompt and runs the change once more.
 */
async function withRecentVerification(change: (fresh: Session) => Promise<void>): Promise<void> {
  if (!session) return;
  try {
    await change(session);
  } catch (error) {
    if (!(error instanceof ApiError && error.code === "REAUTHENTICATION_REQUIRED")) throw error;
    showNotice("For this change, confirm it is you: unlock your passkey (PIN or biometrics).", "success");
    session = await signInAgainVerified(session);
    notice.hidden = true;
    await change(session);
  }
}

element("add-passkey").addEventListener("click", () => {
  void run("add-passkey", async () => {
    if (!session) return;
    await withRecentVerification((fresh) => addPasskey(fresh));
    await showPasskeys();
    showNotice("Passkey added.", "success");
  });
});

element("delete-account").addEventListener("click", async () => {
  const choice = await ask(
    "Delete your account?",
    "Your account and all its passkeys are deleted. This cannot be undone.",
    [{ value: "delete", label: "Delete account", kind: "danger" }],
  );
  if (choice !== "delete") return;
  void run("manage", async () => {
    if (!session) return;
    await withRecentVerification((fresh) => deleteAccount(fresh));
    showSignedOut();
    showNotice("Your account and its passkeys were deleted.", "success");
  });
});

if (browserSupportsWebAuthn()) {
  signedOutView.hidden = false;
  // A first visit or a reload: passkeys are offered in autofill at once.
  startAutofill();
} else {
  signedOutView.hidden = false;
  showNotice("This browser does not support passkeys.");
}
