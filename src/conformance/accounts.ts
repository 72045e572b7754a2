import { normalizeUsername } from "../ceremonies/username";

/**
 * Accounts made through the FIDO conformance binding live under this prefix. The binding may
 * add passkeys to its accounts without a session (src/conformance/policy.ts says why), so the
 * two kinds of account must never meet: native usernames cannot take the prefix, and a binding
 * account's passkey signs in only through the binding and never gets a native session.
 */
export const CONFORMANCE_USERNAME_PREFIX = "fido-conformance:";

export function isConformanceAccount(username: string): boolean {
  return normalizeUsername(username).startsWith(CONFORMANCE_USERNAME_PREFIX);
}

/** The stored account of a binding username, normalised as the native API stores names. */
export function bindingAccountName(username: string): string {
  return `${CONFORMANCE_USERNAME_PREFIX}${normalizeUsername(username)}`;
}
