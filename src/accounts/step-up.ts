import type { Config } from "../config/config";
import { AppError } from "../errors";
import type { VerifiedSession } from "../sessions/session-tokens";

/**
 * Adding a passkey, removing one and deleting the account need more than a valid session:
 * one whose sign-in verified the user (UV, not just presence), no longer ago than
 * REAUTHENTICATION_WINDOW_SECONDS. Under USER_VERIFICATION = "preferred" a sign-in may succeed
 * without UV; such a session may read and rename, but a stolen unlocked security key (or a
 * session left open) must not be enough to take over or wipe the account. A token without
 * `auth_time` (issued before the rule) is never recent. The caller answers 403
 * REAUTHENTICATION_REQUIRED by signing in again with user verification required.
 */
export function requireRecentVerification(session: VerifiedSession, config: Config, now: Date): void {
  const authenticatedAt = session.authenticatedAt?.getTime();
  const recent =
    authenticatedAt !== undefined && now.getTime() - authenticatedAt <= config.reauthenticationWindowSeconds * 1000;
  if (!session.userVerified || !recent) {
    throw new AppError(
      "REAUTHENTICATION_REQUIRED",
      `This change needs a sign-in with user verification (PIN, biometrics) in the last ${config.reauthenticationWindowSeconds} seconds`,
    );
  }
}
