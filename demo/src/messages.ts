// What to tell the user when something fails: browser (WebAuthn) errors by name, server
// errors by code. Raw messages are only a last resort.
import { WebAuthnError } from "@simplewebauthn/browser";
import { ApiError } from "./api";

export type Action = "sign-up" | "sign-in" | "add-passkey" | "manage";

/** Another ceremony took over (e.g. autofill aborted by a click on "Sign in"): nothing to report. */
export function isAborted(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}

export function describeError(error: unknown, action: Action, username = ""): string {
  if (error instanceof ApiError) return describeApiError(error, action);
  if (error instanceof WebAuthnError && error.code === "ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED") {
    return "This device already holds a passkey for your account. Use another device or security key.";
  }
  if (error instanceof Error && error.name === "NotAllowedError") {
    if (action === "sign-in" && username) {
      return `Sign-in was cancelled, or there is no passkey for “${username}” on this device.`;
    }
    if (action === "sign-in") return "Sign-in was cancelled, or no passkey was chosen.";
    return "The passkey prompt was cancelled or timed out. Nothing was saved.";
  }
  if (error instanceof TypeError) return "Cannot reach the server. Check your connection and try again.";
  return error instanceof Error ? error.message : "Something went wrong.";
}

function describeApiError(error: ApiError, action: Action): string {
  const refusedOrigin = originRefusal(error);
  if (refusedOrigin) {
    return `The server does not accept passkeys from this page's origin (${refusedOrigin}). Add it to RP_ORIGINS in the server's settings (docs/troubleshooting.md).`;
  }
  switch (error.code) {
    case "CONFIGURATION_ERROR":
      // The schema's own text is for the operator (the server log has it); the user learns whom to ask.
      return "The server is misconfigured, so this cannot work yet. Its operator can see what to fix in the server log.";
    case "RATE_LIMIT_EXCEEDED":
      return `Too many attempts. Try again in ${waitTime(error.retryAfterSeconds ?? 60)}.`;
    case "LAST_PASSKEY":
      return "This is your only passkey, so it cannot be removed: add another passkey first, or delete your account.";
    case "USERNAME_TAKEN":
      return "That username is taken. Sign in instead, or choose another username.";
    case "AUTHENTICATION_FAILED":
      return "This passkey was not accepted. It may have been removed from its account.";
    case "INVALID_CHALLENGE":
      return "The request expired before it was completed. Please try again.";
    case "SERVICE_UNAVAILABLE":
      return "The server cannot handle this right now. Please try again in a moment.";
    case "UNAUTHORIZED":
      return "Your session has expired. Please sign in again.";
    case "REAUTHENTICATION_REQUIRED":
      return "This change needs a fresh sign-in with your passkey's PIN or biometrics.";
    case "REGISTRATION_FAILED":
      return action === "add-passkey" ? "The new passkey could not be verified." : "The passkey could not be verified.";
    default:
      // The server's own messages are written for people (e.g. a too-long username).
      return error.message;
  }
}

/** The page's origin when the server refused it (RP_ORIGINS); the one failure the server explains. */
function originRefusal(error: ApiError): string | null {
  const details = error.details as { origin?: unknown; setting?: unknown } | undefined;
  return details?.setting === "RP_ORIGINS" && typeof details.origin === "string" ? details.origin : null;
}

function waitTime(seconds: number): string {
  if (seconds < 90) return seconds === 1 ? "1 second" : `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
