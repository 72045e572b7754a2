import {
  type AuthenticationExtensionsClientInputs,
  type AuthenticatorSelectionCriteria,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
} from "@simplewebauthn/server";
import type { UserVerificationLevel } from "../config/config";
import { fromBase64URL, randomBytes, toBase64URL } from "../crypto/encoding";
import { AppError } from "../errors";
import type { VerifiedSession } from "../sessions/session-tokens";
import { describeCredentials } from "./credential-descriptors";
import type { CeremonyPorts } from "./ports";
import { effectiveUserVerification } from "./user-verification";
import { normalizeUsername } from "./username";

/** COSE algorithms we accept, strongest and most common first: EdDSA, ES256, RS256. */
export const supportedAlgorithmIds = [-8, -7, -257];

export type RegistrationOptionsInput = {
  username: string;
  displayName?: string;
  userVerification?: UserVerificationLevel;
  attestation?: "none" | "direct" | "enterprise";
  authenticatorSelection?: AuthenticatorSelectionCriteria;
  extensions?: AuthenticationExtensionsClientInputs;
  /** "conditional" asks for conditional create (an automatic passkey upgrade after a password sign-in). */
  mediation?: "conditional";
  /** The caller's verified session, when it sent one. */
  session: VerifiedSession | null;
};

export async function startRegistration(
  input: RegistrationOptionsInput,
  ports: CeremonyPorts,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { config } = ports;
  const username = normalizeUsername(input.username);
  const displayName = input.displayName?.trim() || username;
  const existing = await ports.users.findByUsername(username);

  // Anyone may claim a free name; only the account's own session may add a passkey to it.
  if (existing && input.session?.userId !== existing.id) {
    throw new AppError("USERNAME_TAKEN", "This username is already registered; sign in to add a passkey");
  }
  if (existing && !existing.isActive) {
    throw new AppError("USERNAME_TAKEN", "This username is already registered; sign in to add a passkey");
  }

  // Disabled passkeys count too: they still occupy a slot and must not be registered again.
  const current = existing ? await ports.credentials.listForUser(existing.id) : [];
  if (current.length >= config.maxCredentialsPerUser) {
    throw new AppError("TOO_MANY_CREDENTIALS", `An account can hold at most ${config.maxCredentialsPerUser} passkeys`);
  }

  const userVerification = effectiveUserVerification(config.userVerification, input.userVerification);
  const userId = existing?.id ?? toBase64URL(randomBytes(16));
  const options = await generateRegistrationOptions({
    rpName: config.rpName,
    rpID: config.rpId,
    userName: username,
    userID: fromBase64URL(userId),
    userDisplayName: displayName,
    timeout: config.challengeTtlSeconds * 1000,
    attestationType: input.attestation ?? config.attestation,
    excludeCredentials: await describeCredentials(current, ports.credentialIds),
    authenticatorSelection: {
      // Discoverable credentials make usernameless and autofill sign-in possible.
      residentKey: "required",
      requireResidentKey: true,
      ...input.authenticatorSelection,
      userVerification,
    },
    extensions: input.extensions,
    supportedAlgorithmIDs: supportedAlgorithmIds,
  });

  await ports.challenges.put({
    ceremony: "registration",
    challenge: options.challenge,
    expiresAt: ports.now().getTime() + config.challengeTtlSeconds * 1000,
    userVerification,
    userId,
    username,
    displayName,
    existingUser: Boolean(existing),
    conditional: input.mediation === "conditional",
  });
  return options;
}
