import {
  type AuthenticationExtensionsClientInputs,
  type AuthenticatorSelectionCriteria,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
} from "@simplewebauthn/server";
import type { SignedInAccount } from "../accounts/session-account";
import type { UserVerificationLevel } from "../config/config";
import { fromBase64URL, randomBytes, toBase64URL } from "../crypto/encoding";
import { AppError, tooManyCredentials } from "../errors";
import { describeCredentials } from "./credential-descriptors";
import { type CeremonyPolicy, recordedPolicy } from "./policy";
import type { CeremonyPorts } from "./ports";
import { effectiveUserVerification } from "./user-verification";
import { normalizeUsername, usernameSkeleton } from "./username";

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
};

export async function startRegistration(
  input: RegistrationOptionsInput,
  ports: CeremonyPorts,
  policy: CeremonyPolicy,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { config } = ports;
  const username = normalizeUsername(input.username);
  const displayName = input.displayName?.trim() || username;
  // The binding and the native API each reach only their own accounts (the policy's `reaches`).
  if (!policy.reaches(username)) {
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

  // Anyone may claim a free name; adding a passkey to a taken one is the policy's call (the
  // native API: only the account's own session). A disabled account takes no new passkey.
  if (existing && ((policy.addToExistingAccount === "own-session" && !signedIn) || !existing.isActive)) {
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
  if (policy.excludeCredentials === "newest-first") excludeCredentials.reverse();
  const policyId = recordedPolicy(policy);
  const challenge = await ports.challenges.issue(
    {
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
      ...(policyId ? { policy: policyId } : {}),
    },
    policy.challengeStorage,
  );
  const options = await generateRegistrationOptions({
    // The ceremony's state, sealed, or the key to it in storage (the policy's challengeStorage).
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
    supportedAlgorithmIDs: [...policy.algorithms],
  });
  if (policy.echoOptions) echoAsRequested(options, input);

  return options;
}

/**
 * The echo rule (CeremonyPolicy.echoOptions): the library's additions (credProps,
 * residentKey, the server's user verification) are taken back out.
 */
function echoAsRequested(options: PublicKeyCredentialCreationOptionsJSON, input: RegistrationOptionsInput): void {
  options.attestation = input.attestation ?? "none";
  if (input.authenticatorSelection) options.authenticatorSelection = structuredClone(input.authenticatorSelection);
  else delete options.authenticatorSelection;
  if (input.extensions) options.extensions = structuredClone(input.extensions);
  else delete options.extensions;
}
