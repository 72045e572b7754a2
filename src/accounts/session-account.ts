import type { CeremonyPorts } from "../ceremonies/ports";
import { isConformanceAccount } from "../conformance/accounts";
import type { CredentialRow, UserRow } from "../db/schema";
import type { VerifiedSession } from "../sessions/session-tokens";

/**
 * The account a session token speaks for, with all its passkeys (oldest first), read once per
 * request: the self-service endpoints and adding a passkey work from this one read.
 */
export type SignedInAccount = { session: VerifiedSession; user: UserRow; passkeys: CredentialRow[] };

/**
 * The signed-in account for a token, or null. A token speaks for one passkey of one account,
 * and only while both are active: removing or disabling the passkey it was issued for ends
 * the session, so a stolen passkey's session cannot outlive the passkey (and plant another).
 * Signing out ends it too.
 * Binding accounts of the FIDO conformance surface never have a native session.
 */
export async function signedInAccount(token: string, ports: CeremonyPorts): Promise<SignedInAccount | null> {
  const session = await ports.sessions.verify(token);
  if (!session) return null;
  // Read alongside the rate limiter's verdict (a read changes nothing), from the primary: a
  // passkey removed, an account disabled or a session signed out a moment ago ends it at once.
  const [, { account, revoked }] = await Promise.all([
    ports.admission(),
    ports.credentials.findSessionAccount(session.userId, session.sessionId),
  ]);
  // Signed out (DELETE /api/v1/session): refused at once, though the token has not expired.
  if (revoked) return null;
  if (!account?.user.isActive || isConformanceAccount(account.user.username)) return null;
  const passkey = account.credentials.find((row) => row.id === session.passkeyId);
  if (!passkey?.isActive) return null;
  return { session, user: account.user, passkeys: account.credentials };
}
