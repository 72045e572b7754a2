import {
  type AuthenticationExtensionsClientInputs,
  generateAuthenticationOptions,
  type PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import type { UserVerificationLevel } from "../config/config";
import { AppError } from "../errors";
import { type CredentialDescriptor, describeCredentials } from "./credential-descriptors";
import { decoyCredentials } from "./decoy-credentials";
import { type CeremonyPolicy, recordedPolicy } from "./policy";
import type { CeremonyPorts } from "./ports";
import { effectiveUserVerification } from "./user-verification";
import { normalizeUsername } from "./username";

export type AuthenticationOptionsInput = {
  /** Omitted for a discoverable (usernameless / autofill) sign-in. */
  username?: string;
  userVerification?: UserVerificationLevel;
  extensions?: AuthenticationExtensionsClientInputs;
};

export async function startAuthentication(
  input: AuthenticationOptionsInput,
  ports: CeremonyPorts,
  policy: CeremonyPolicy,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { config } = ports;
  const userVerification = effectiveUserVerification(config.userVerification, input.userVerification);

  let userId: string | null = null;
  let decoy = false;
  let allowCredentials: CredentialDescriptor[] | undefined;
  if (input.username === undefined) {
    await ports.admission();
  } else {
    const username = normalizeUsername(input.username);
    // One read whether or not the name exists, then opening real ids or sealing and opening
    // decoys: the two answers take the same steps. The read runs alongside the rate limiter's
    // verdict (it writes nothing) and may come from a nearby replica: a passkey added or
    // disabled a moment ago only changes what the browser is offered, while verify reads the
    // primary and decides.
    const [, account] = await Promise.all([
      ports.admission(),
      ports.credentials.findUserWithActiveCredentials(username, { replica: true }),
    ]);
    // Each surface reaches only its own accounts (the policy's `reaches`); others are unknown.
    if (policy.reaches(username) && account?.user.isActive && account.credentials.length > 0) {
      userId = account.user.id;
      allowCredentials = await describeCredentials(account.credentials, ports.credentialIds);
    } else if (policy.unknownUser === "not-found") {
      throw new AppError("USER_NOT_FOUND", "User does not exist or has no passkey");
    } else {
      // Same answer shape for a name nobody (active) has: it must not reveal who has an account.
      decoy = true;
      allowCredentials = await decoyCredentials(username, ports.credentialIds);
    }
  }

  const policyId = recordedPolicy(policy);
  const challenge = await ports.challenges.issue(
    {
      ceremony: "authentication",
      expiresAt: ports.now().getTime() + config.challengeTtlSeconds * 1000,
      userVerification,
      userId,
      ...(decoy ? { decoy } : {}),
      ...(policyId ? { policy: policyId } : {}),
    },
    policy.challengeStorage,
  );
  const options = await generateAuthenticationOptions({
    rpID: config.rpId,
    // The ceremony's state, sealed, or the key to it in storage (the policy's challengeStorage).
    challenge,
    allowCredentials,
    userVerification,
    timeout: config.challengeTtlSeconds * 1000,
    extensions: input.extensions,
  });
  if (policy.echoOptions) {
    // What was asked for, not the server's stricter floor.
    options.userVerification = input.userVerification ?? "preferred";
    if (input.extensions) options.extensions = structuredClone(input.extensions);
  }
  return options;
}
