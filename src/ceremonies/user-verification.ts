import type { UserVerificationLevel } from "../config/config";

const strength: Record<UserVerificationLevel, number> = { discouraged: 0, preferred: 1, required: 2 };

/** A client may ask for more user verification than the server's policy, never for less. */
export function effectiveUserVerification(
  policy: UserVerificationLevel,
  requested: UserVerificationLevel | undefined,
): UserVerificationLevel {
  if (!requested) return policy;
  return strength[requested] > strength[policy] ? requested : policy;
}
