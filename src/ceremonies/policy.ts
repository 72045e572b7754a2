import { isConformanceAccount } from "../conformance/accounts";
import type { ChallengeStorage } from "../durable-objects/challenge-store";

/**
 * The rules a ceremony follows where the surfaces that drive it differ. The ceremonies take one
 * and branch on its fields, never on who called: the native API passes `nativePolicy`, the FIDO
 * conformance binding `conformancePolicy` (src/conformance/policy.ts, which says why its rules
 * differ).
 */
export type CeremonyPolicy = {
  /**
   * Recorded in the ceremony's state (`recordedPolicy`): the verify step refuses a ceremony that
   * another policy started, so one surface's rules never finish the other's ceremony.
   */
  id: string;
  /** COSE algorithms offered in creation options and accepted in attestations. */
  algorithms: readonly number[];
  /** Whether a (normalised) username is an account this surface may register or sign in. */
  reaches(username: string): boolean;
  /**
   * What sign-in options answer for a username that names no account this surface reaches
   * (or one without an active passkey): decoy credential ids that look like a real answer, or
   * USER_NOT_FOUND.
   */
  unknownUser: "decoys" | "not-found";
  /**
   * Options echo what was asked, with nothing added: `userVerification` and `extensions` (get),
   * `attestation`, `authenticatorSelection` and `extensions` (create). Otherwise the server's
   * floor and defaults apply.
   */
  echoOptions: boolean;
  /** Order of `excludeCredentials`: as stored (oldest first), or newest first. */
  excludeCredentials: "oldest-first" | "newest-first";
  /**
   * Who may add a passkey to an existing account: only that account's own session (sealed into
   * the challenge, checked again at verify), or whoever asks.
   */
  addToExistingAccount: "own-session" | "anyone";
  /**
   * Whether an assertion must carry user presence, or may lack both UP and UV unless user
   * verification was required (then UV stands for presence).
   */
  userPresence: "required" | "unless-user-verification-required";
  /** Where the ceremony's state waits between options and verify (src/durable-objects/challenge-store.ts). */
  challengeStorage: ChallengeStorage;
};

/** COSE algorithms the native API accepts, strongest and most common first: EdDSA, ES256, RS256. */
export const supportedAlgorithmIds = [-8, -7, -257];

/** The native API (/api/v1): the rules for real users. */
export const nativePolicy: CeremonyPolicy = {
  id: "native",
  algorithms: supportedAlgorithmIds,
  // Every account except the binding's test accounts (src/conformance/accounts.ts).
  reaches: (username) => !isConformanceAccount(username),
  // An unknown name gets the same answer shape as a known one: it must not reveal who has an account.
  unknownUser: "decoys",
  echoOptions: false,
  excludeCredentials: "oldest-first",
  addToExistingAccount: "own-session",
  userPresence: "required",
  // No storage write at options time: the state travels inside the challenge.
  challengeStorage: "sealed",
};

/**
 * How a ceremony's state names its policy. The native one is written as absence, so native
 * sealed challenges are exactly as before policies had ids (and ones issued before stay good).
 */
export function recordedPolicy(policy: CeremonyPolicy): string | undefined {
  return policy.id === nativePolicy.id ? undefined : policy.id;
}
