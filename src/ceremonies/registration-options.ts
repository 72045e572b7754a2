import {
  type AuthenticationExtensionsClientInputs,
  type AuthenticatorSelectionCriteria,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
} from "@simplewebauthn/server";
import type { SignedInAccount } from "../accounts/session-account";
import type { UserVerificationLevel } from "../config/config";
import { fromBase64URL, randomBytes, toBase64URL } from "../crypto/encoding";
import type { CeremonyProfile } from "../durable-objects/challenge-store";
import { AppError, tooManyCredentials } from "../errors";
import { isConformanceAccount } from "./conformance-accounts";
import { describeCredentials } from "./credential-descriptors";
import type { CeremonyPorts } from "./ports";
import { effectiveUserVerification } from "./user-verification";
import { normalizeUsername, usernameSkeleton } from "./username";

/** COSE algorithms we accept, strongest and most common first: EdDSA, ES256, RS256. */
export const supportedAlgorithmIds = [-8, -7, -257];

/**
 * What the FIDO conformance binding offers: every algorithm the FIDO conformance tools
 * register with (ES256, EdDSA, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512 and
 * RS1, which is SHA-1 and so is never offered by the native API).
 */
export const conformanceAlgorithmIds = [-7, -8, -35, -36, -37, -38, -39, -257, -258, -259, -65535];

export function algorithmsFor(profile: CeremonyProfile | undefined): number[] {
  return profile === "fido-conformance" ? conformanceAlgorithmIds : supportedAlgorithmIds;
}

export type RegistrationOptionsInput = {
  username: string;
  displayName?: string;
  userVerification?: UserVerificationLevel;
  attestation?: "none" | "indirect" | "direct" | "enterprise";
  authenticatorSelection?: AuthenticatorSelectionCriteria;
  extensions?: AuthenticationExtensionsClientInputs;
  /** "conditional" asks for conditional create (an automatic passkey upgrade after a password sign-in). */
  mediation?: "conditional";
  /** The caller's signed-in account (from its session token), when it sent one. */
  account: SignedInAccount | null;
  /**
   * "fido-conformance" (the FIDO binding, a test surface): `attestation`,
   * `authenticatorSelection` and `extensions` go out exactly as requested with nothing added,
   * the conformance algorithms are offered, and a passkey may be added to an existing account
   * without its session, because the conformance tools re-use usernames and hold no sessions.
   */
  profile?: CeremonyProfile;
};

export async function startRegistration(
  input: RegistrationOptionsInput,
  ports: CeremonyPorts,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { config } = ports;
  const username = normalizeUsername(input.username);
  const displayName = input.displayName?.trim() || username;
  const conformance = input.profile === "fido-conformance";
  // The binding and the native API each reach only their own accounts (conformance-accounts.ts).
  if (isConformanceAccount(username) !== conformance) {
    throw new AppError("VALIDATION_ERROR", "This username is reserved", {
      details: [{ path: ["username"], message: "reserved" }],
    });
  }
  // A signed-in caller adding a passkey to its own account: the session's read already holds
  // the account and its passkeys. Anyone else: one read of the name and its passkeys.
  // The read runs alongside the rate limiter's verdict (it writes nothing) and may come from a
  // nearby replica: a name taken a moment ago is still refused by the unique index at verify.
  const signedIn = input.account?.user.username === username ? input.account : null;
  const [, found] = await Promise.all([
    ports.admission(),
    signedIn
      ? { user: signedIn.user, credentials: signedIn.passkeys }
      : ports.credentials.findAccountByUsername(username, usernameSkeleton(username), { replica: true }),
  ]);
  const existing = found?.user;
  // The lookup also finds a name that only looks like this one (the same confusable skeleton,
  // src/ceremonies/username.ts): taken, whoever asks, and never an account to add to.
  if (existing && existing.username !== username) {
    throw new AppError("USERNAME_TAKEN", "This username, or one that looks the same, is already registered");
  }

  // Anyone may claim a free name; only the account's own session may add a passkey to it.
  // A disabled account takes no new passkey, whoever asks.
  if (existing && ((!conformance && !signedIn) || !existing.isActive)) {
    throw new AppError("USERNAME_TAKEN", "This username is already registered; sign in to add a passkey");
  }

  // Disabled passkeys count too: they still occupy a slot and must not be registered again.
  const current = found?.credentials ?? [];
  if (current.length >= config.maxCredentialsPerUser) {
    throw tooManyCredentials(config.maxCredentialsPerUser);
  }

  const userVerification = effectiveUserVerification(config.userVerification, input.userVerification);
  const userId = existing?.id ?? toBase64URL(randomBytes(16));
  const excludeCredentials = await describeCredentials(current, ports.credentialIds);
  // The conformance tools look at the first entry only: the newest passkey goes first.
  if (conformance) excludeCredentials.reverse();
  const challenge = await ports.challenges.issue({
    ceremony: "registration",
    expiresAt: ports.now().getTime() + config.challengeTtlSeconds * 1000,
    userVerification,
    userId,
    username,
    displayName,
    existingUser: Boolean(existing),
    // Adding to an existing account through the native API: only while this session stays good.
    ...(existing && signedIn
      ? {
          session: {
            passkeyId: signedIn.session.passkeyId,
            expiresAt: signedIn.session.expiresAt.getTime(),
            sessionId: signedIn.session.sessionId,
          },
        }
      : {}),
    conditional: input.mediation === "conditional",
    ...(input.profile ? { profile: input.profile } : {}),
  });
  const options = await generateRegistrationOptions({
    // The ceremony's state, sealed (native API) or a key to it (conformance binding).
    challenge,
    rpName: config.rpName,
    rpID: config.rpId,
    userName: username,
    userID: fromBase64URL(userId),
    userDisplayName: displayName,
    timeout: config.challengeTtlSeconds * 1000,
    attestationType: input.attestation === "indirect" ? "direct" : (input.attestation ?? config.attestation),
    excludeCredentials,
    authenticatorSelection: {
      // Discoverable credentials make usernameless and autofill sign-in possible.
      residentKey: "required",
      requireResidentKey: true,
      ...input.authenticatorSelection,
      userVerification,
    },
    extensions: input.extensions,
    supportedAlgorithmIDs: algorithmsFor(input.profile),
  });
  if (conformance) echoAsRequested(options, input);

  return options;
}

/**
 * The FIDO binding's echo rule: the conformance tools compare these fields with what they
 * sent, so the library's additions (credProps, residentKey, the server's user verification)
 * are taken back out.
 */
function echoAsRequested(options: PublicKeyCredentialCreationOptionsJSON, input: RegistrationOptionsInput): void {
  options.attestation = input.attestation ?? "none";
  if (input.authenticatorSelection) options.authenticatorSelection = structuredClone(input.authenticatorSelection);
  else delete options.authenticatorSelection;
  if (input.extensions) options.extensions = structuredClone(input.extensions);
  else delete options.extensions;
}
