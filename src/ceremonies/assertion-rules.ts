/**
 * The rules an assertion's claims are judged by once its signature is known to be genuine, and
 * the user handle rule before it: pure, so they are tested on their own (assertion-rules.test.ts).
 */

/**
 * WebAuthn L3 §7.2, the signature counter: when either counter is non-zero, the reported
 * one must be greater than the stored one; otherwise the authenticator may be cloned. Two zeros
 * are a passkey that keeps no counter (synced passkeys report 0).
 */
export function counterRegressed(stored: number, reported: number): boolean {
  return (stored > 0 || reported > 0) && reported <= stored;
}

/**
 * Backup eligibility (BE) is fixed when the credential is created: an eligible passkey that now
 * reports itself ineligible is not the passkey that was registered.
 */
export function backupEligibilityCleared(storedEligible: boolean, reportedEligible: boolean): boolean {
  return storedEligible && !reportedEligible;
}

/**
 * WebAuthn L3 §7.2 step 6: who signs in. The response's userHandle must name the credential's
 * owner. Android hybrid sign-ins may omit it: then the account the ceremony was started for
 * (checked before this) is the answer, but a usernameless ceremony named no account, and the
 * authenticator's userHandle is the only statement of who signs in. Returns the reason to
 * refuse, or null.
 */
export function userHandleRefusal(
  userHandle: string | undefined,
  startedFor: string | null,
  owner: string,
): "user_handle_missing" | "user_handle_mismatch" | null {
  if (userHandle === undefined) return startedFor === null ? "user_handle_missing" : null;
  return userHandle === owner ? null : "user_handle_mismatch";
}
