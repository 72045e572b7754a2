import type { CeremonyPolicy } from "../ceremonies/policy";
import { isConformanceAccount } from "./accounts";

/**
 * What the FIDO conformance binding offers: every algorithm the FIDO conformance tools
 * register with (ES256, EdDSA, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512 and
 * RS1, which is SHA-1 and so is never offered by the native API).
 */
export const conformanceAlgorithmIds = [-7, -8, -35, -36, -37, -38, -39, -257, -258, -259, -65535];

/**
 * The FIDO conformance binding (/attestation/*, /assertion/*; docs/conformance.md "Rules the
 * binding follows"): a test surface, off unless CONFORMANCE_API is "true". This is the one
 * place its rules are explained; the ceremonies only read the fields.
 *
 * - The tools compare the options with what they sent: `attestation`, `authenticatorSelection`,
 *   `extensions` and get options' `userVerification` go out exactly as requested, with nothing
 *   added (not SimpleWebAuthn's credProps or residentKey, not the server's stricter floor).
 * - They look at the first `excludeCredentials` entry only: the newest passkey goes first.
 * - They register with more algorithms than the native API offers (`conformanceAlgorithmIds`).
 * - An unknown username is refused (404 USER_NOT_FOUND), the FIDO rule; the native API answers
 *   with decoys instead.
 * - An assertion may lack user presence unless user verification was required (SimpleWebAuthn's
 *   `advancedFIDOConfig`); the native API keeps requiring UP.
 * - The tools re-use usernames and hold no sessions, so a passkey may be added to an existing
 *   account without its session. That is why the binding reaches only its own accounts, stored
 *   under the `fido-conformance:` prefix (src/conformance/accounts.ts), and the native API never
 *   reaches them.
 * - Its challenges must be 16-64 bytes, too short to carry the sealed state, so the state is
 *   stored in the ChallengeStore object named after the challenge.
 * - A ceremony it starts can only be finished through it, and one started on /api/v1 only there
 *   (the state records the policy's id), so these relaxed rules never reach the native API.
 */
export const conformancePolicy: CeremonyPolicy = {
  id: "fido-conformance",
  algorithms: conformanceAlgorithmIds,
  reaches: isConformanceAccount,
  unknownUser: "not-found",
  echoOptions: true,
  excludeCredentials: "newest-first",
  addToExistingAccount: "anyone",
  userPresence: "unless-user-verification-required",
  challengeStorage: "stored",
};
