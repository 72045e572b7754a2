// Everything a web app needs to do with passkeys, against the passkey server's API:
// ask for options, hand them to the browser (@simplewebauthn/browser), send the result back.
import {
  type AuthenticationExtensionsClientInputs,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
  startAuthentication,
  startRegistration,
} from "@simplewebauthn/browser";
import { ApiError, call, client, withToken } from "./api";

/** What a successful sign-up or sign-in returns. `token` is a short-lived ES256 JWT for your backend. */
export type Session = {
  userId: string;
  username: string;
  passkeyId: string;
  token: string;
  tokenExpiresAt: string;
};

/** One passkey as GET /api/v1/credentials lists it (docs/api-management.md has every field). */
export type Passkey = {
  id: string;
  credentialId: string;
  name: string;
  /** The model, when its AAGUID is known; `icon` is a data: URI from FIDO metadata, when loaded. */
  authenticator: { name: string | null; icon?: string | null };
  createdAt: string;
  lastUsedAt: string | null;
  backupEligible: boolean;
  backedUp: boolean;
  isActive: boolean;
  flag: string | null;
};

/**
 * Options and credentials cross the wire as JSON. Only their extensions are typed differently on
 * each side (the browser library's BufferSource values and interfaces, the server's JSON), so
 * only they are converted; every other field is checked against the server's types.
 */
const browserOptions = <T extends { extensions?: unknown }>(options: T) => ({
  ...options,
  extensions: options.extensions as AuthenticationExtensionsClientInputs | undefined,
});
const serverCredential = <T extends RegistrationResponseJSON | AuthenticationResponseJSON>(
  credential: T,
): Omit<T, "clientExtensionResults"> & { clientExtensionResults: Record<string, unknown> } => {
  const { clientExtensionResults, ...rest } = credential;
  return { ...rest, clientExtensionResults: { ...clientExtensionResults } };
};

/** Sign up: the server creates the account only once its first passkey verifies. */
export async function signUp(username: string): Promise<Session> {
  const optionsJSON = await call(client.registration.challenge.$post({ json: { username } }));
  const credential = await startRegistration({ optionsJSON: browserOptions(optionsJSON) });
  return call(client.registration.verify.$post({ json: { credential: serverCredential(credential) } }));
}

/** Sign in with a username, or without one (the browser offers every passkey it has for this site). */
export async function signIn(username?: string): Promise<Session> {
  const optionsJSON = await call(client.authentication.challenge.$post({ json: username ? { username } : {} }));
  return verifySignIn(await startAuthentication({ optionsJSON: browserOptions(optionsJSON) }));
}

/**
 * Conditional UI: the browser lists passkeys among the autofill suggestions of the
 * `autocomplete="username webauthn"` field. Resolves once the user picks one (then hand it to
 * verifySignIn); any other ceremony started meanwhile aborts this one (it then rejects with an
 * AbortError). Until the pick, nothing here is the user's doing: failures are not theirs to see.
 */
export async function pickPasskeyInAutofill(): Promise<AuthenticationResponseJSON> {
  const optionsJSON = await call(client.authentication.challenge.$post({ json: {} }));
  return startAuthentication({ optionsJSON: browserOptions(optionsJSON), useBrowserAutofill: true });
}

/** The server checks the passkey's answer and signs the user in. */
export async function verifySignIn(credential: AuthenticationResponseJSON): Promise<Session> {
  try {
    return await call(client.authentication.verify.$post({ json: { credential: serverCredential(credential) } }));
  } catch (error) {
    // A passkey the server does not know (e.g. removed on another device): the browser may forget it.
    if (error instanceof ApiError) await applySignals((error.details as { signals?: Signal[] } | undefined)?.signals);
    throw error;
  }
}

/** Another passkey for the signed-in account: the same ceremony as sign-up, with the session token. */
export async function addPasskey(session: Session): Promise<void> {
  const optionsJSON = await call(
    client.registration.challenge.$post({ json: { username: session.username } }, withToken(session.token)),
  );
  const credential = await startRegistration({ optionsJSON: browserOptions(optionsJSON) });
  await call(client.registration.verify.$post({ json: { credential: serverCredential(credential) } }));
}

export async function listPasskeys(session: Session): Promise<Passkey[]> {
  const { credentials } = await call(client.credentials.$get({}, withToken(session.token)));
  return credentials;
}

export async function renamePasskey(session: Session, passkey: Passkey, name: string): Promise<void> {
  await call(client.credentials[":id"].$patch({ param: { id: passkey.id }, json: { name } }, withToken(session.token)));
}

/** The server refuses to remove the account's last passkey (409 LAST_PASSKEY): it could never sign in again. */
export async function removePasskey(session: Session, passkey: Passkey): Promise<void> {
  const { signals } = await call(
    client.credentials[":id"].$delete({ param: { id: passkey.id }, query: {} }, withToken(session.token)),
  );
  await applySignals(signals);
}

export async function deleteAccount(session: Session): Promise<void> {
  const { signals } = await call(client.me.$delete({}, withToken(session.token)));
  await applySignals(signals);
}

// --- Sign-out and step-up ----------------------------------------------------------------

/** Ends the session on the server: its token is refused from now on (docs/api-management.md "Sign out"). */
export async function signOut(session: Session): Promise<void> {
  await call(client.session.$delete({}, withToken(session.token)));
}

/**
 * Adding or removing a passkey and deleting the account need a recent sign-in that verified
 * the user (PIN, biometrics); otherwise the server answers 403 REAUTHENTICATION_REQUIRED.
 * This is that sign-in: the same account, user verification required. Returns the new session.
 */
export async function signInAgainVerified(session: Session): Promise<Session> {
  const optionsJSON = await call(
    client.authentication.challenge.$post({ json: { username: session.username, userVerification: "required" } }),
  );
  return verifySignIn(await startAuthentication({ optionsJSON: browserOptions(optionsJSON) }));
}

/** After signing in: tell the browser which of the account's passkeys still work, and its current name. */
export async function syncPasskeysWithBrowser(session: Session): Promise<void> {
  const { signals } = await call(client.me.$get({}, withToken(session.token)));
  await applySignals(signals);
}

/**
 * The WebAuthn Signal API: the server says which `PublicKeyCredential.signal…()` calls keep the
 * browser's passkey provider in step (forget removed passkeys, show current names).
 */
type Signal = {
  method: "signalUnknownCredential" | "signalAllAcceptedCredentials" | "signalCurrentUserDetails";
  options: object;
};

/** Best effort: browsers without the Signal API, and providers that ignore it, change nothing. */
async function applySignals(signals: Signal[] = []): Promise<void> {
  const browser = PublicKeyCredential as unknown as Partial<
    Record<Signal["method"], (options: object) => Promise<void>>
  >;
  for (const { method, options } of signals) {
    await browser[method]?.call(PublicKeyCredential, options).catch(() => undefined);
  }
}
