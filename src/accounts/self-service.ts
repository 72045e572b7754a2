import { credentialIdsOf } from "../ceremonies/credential-descriptors";
import type { CeremonyPorts } from "../ceremonies/ports";
import {
  allAcceptedCredentials,
  currentUserDetails,
  unknownCredential,
  type WebAuthnSignal,
} from "../ceremonies/webauthn-signals";
import { AppError } from "../errors";
import {
  type AccountSummary,
  accountSummary,
  type PasskeySummary,
  passkeySummaries,
  passkeySummary,
} from "./passkey-summary";
import type { SignedInAccount } from "./session-account";
import { requireRecentVerification } from "./step-up";

/*
 * What a signed-in user may do with their own account and passkeys. The account comes from a
 * verified session of an active account (src/accounts/session-account.ts), read with its
 * passkeys; every lookup is scoped to it, so another account's passkey id is "not found" (404),
 * never "forbidden": ids cannot be probed.
 */

export type AccountView = {
  user: AccountSummary;
  /** The session the request was made with: which passkey signed in, and until when. */
  session: { passkeyId: string; userVerified: boolean; expiresAt: string };
  passkeyCount: number;
  /** Keep the browser's passkey provider in step: call these after sign-in (docs/api-management.md). */
  signals: WebAuthnSignal[];
};

export type PasskeyRemoval = { removed: PasskeySummary; signals: WebAuthnSignal[] };

export type AccountDeletion = { userId: string; deletedPasskeys: number; signals: WebAuthnSignal[] };

const notFound = () => new AppError("CREDENTIAL_NOT_FOUND", "No such passkey on this account");

export async function listPasskeys(account: SignedInAccount, ports: CeremonyPorts): Promise<PasskeySummary[]> {
  return passkeySummaries(account.passkeys, ports.credentialIds, ports);
}

export async function renamePasskey(
  account: SignedInAccount,
  id: string,
  name: string,
  ports: CeremonyPorts,
): Promise<PasskeySummary> {
  const row = await ports.credentials.rename(account.user.id, id, name, ports.now());
  if (!row) throw notFound();
  ports.events.record({
    event: "credential_renamed",
    outcome: "success",
    userId: account.user.id,
    credentialRowId: id,
  });
  return passkeySummary(row, ports.credentialIds, ports);
}

/**
 * Removing the account's last active passkey would leave no way to sign in, so it needs
 * `force`. That passkey is necessarily the session's own, so the session ends with it: the
 * account stays, locked, until an operator deletes it (the admin API). Removing any passkey
 * ends the sessions it created, which is the point when it was lost or stolen.
 */
export async function removePasskey(
  account: SignedInAccount,
  id: string,
  { force }: { force: boolean },
  ports: CeremonyPorts,
): Promise<PasskeyRemoval> {
  requireRecentVerification(account.session, ports.config, ports.now());
  const removed = await ports.credentials.removeOwned(account.user.id, id, { allowLast: force });
  if (!removed) {
    if (!(await ports.credentials.findOwned(account.user.id, id))) throw notFound();
    throw new AppError("LAST_PASSKEY");
  }
  ports.events.record({
    event: "credential_removed",
    outcome: "success",
    reason: "owner_removed",
    userId: account.user.id,
    credentialRowId: removed.id,
  });
  const [summary, remaining] = await Promise.all([
    passkeySummary(removed, ports.credentialIds, ports),
    credentialIdsOf(
      account.passkeys.filter((row) => row.id !== removed.id),
      ports.credentialIds,
    ),
  ]);
  const { rpId } = ports.config;
  return {
    removed: summary,
    signals: [unknownCredential(rpId, summary.credentialId), allAcceptedCredentials(rpId, account.user.id, remaining)],
  };
}

export async function describeAccount(account: SignedInAccount, ports: CeremonyPorts): Promise<AccountView> {
  // Every stored passkey of the account counts as accepted, disabled ones too: a provider may
  // delete what the list leaves out, and an operator can enable a disabled passkey again.
  const ids = await credentialIdsOf(account.passkeys, ports.credentialIds);
  const { rpId } = ports.config;
  return {
    user: accountSummary(account.user),
    session: {
      passkeyId: account.session.passkeyId,
      userVerified: account.session.userVerified,
      expiresAt: account.session.expiresAt.toISOString(),
    },
    passkeyCount: ids.length,
    signals: [allAcceptedCredentials(rpId, account.user.id, ids), currentUserDetails(rpId, account.user)],
  };
}

/** The account and all its passkeys go in one transaction; the username becomes free again. */
export async function deleteAccount(account: SignedInAccount, ports: CeremonyPorts): Promise<AccountDeletion> {
  requireRecentVerification(account.session, ports.config, ports.now());
  const ids = await credentialIdsOf(account.passkeys, ports.credentialIds);
  const result = await ports.users.deleteWithCredentials(account.user.id);
  // Deleted by a concurrent request (or an operator) in between: the session's account is gone.
  if (!result.deleted) throw new AppError("UNAUTHORIZED");
  ports.events.record({
    event: "account_deleted",
    outcome: "success",
    reason: "owner_deleted",
    userId: account.user.id,
  });
  const { rpId } = ports.config;
  return {
    userId: account.user.id,
    deletedPasskeys: result.passkeys,
    // An empty accepted list covers every passkey of the account, including any the browser
    // holds that we never listed; the per-credential signals are for the ones we know.
    signals: [allAcceptedCredentials(rpId, account.user.id, []), ...ids.map((id) => unknownCredential(rpId, id))],
  };
}

/**
 * Sign-out: the session's token is refused by this server from now on, though it has not
 * expired (the revocation is kept until it would have). An app backend that verifies tokens
 * offline with the JWKS cannot see this and accepts the token until its `exp`.
 */
export async function signOut(account: SignedInAccount, ports: CeremonyPorts): Promise<{ signedOut: true }> {
  await ports.revokedSessions.revoke(account.session.sessionId, account.session.expiresAt);
  ports.events.record({
    event: "signed_out",
    outcome: "success",
    userId: account.user.id,
    credentialRowId: account.session.passkeyId,
  });
  return { signedOut: true };
}
