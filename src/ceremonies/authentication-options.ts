import { generateAuthenticationOptions, type PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import type { UserVerificationLevel } from "../config/config";
import { type CredentialDescriptor, describeCredentials } from "./credential-descriptors";
import { decoyCredentials } from "./decoy-credentials";
import type { CeremonyPorts } from "./ports";
import { effectiveUserVerification } from "./user-verification";
import { normalizeUsername } from "./username";

export type AuthenticationOptionsInput = {
  /** Omitted for a discoverable (usernameless / autofill) sign-in. */
  username?: string;
  userVerification?: UserVerificationLevel;
};

export async function startAuthentication(
  input: AuthenticationOptionsInput,
  ports: CeremonyPorts,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { config } = ports;
  const userVerification = effectiveUserVerification(config.userVerification, input.userVerification);

  let userId: string | null = null;
  let decoy = false;
  let allowCredentials: CredentialDescriptor[] | undefined;
  if (input.username !== undefined) {
    const username = normalizeUsername(input.username);
    // One read whether or not the name exists, then opening real ids or sealing and opening
    // decoys: the two answers take the same steps.
    const account = await ports.credentials.findUserWithActiveCredentials(username);
    if (account?.user.isActive && account.credentials.length > 0) {
      userId = account.user.id;
      allowCredentials = await describeCredentials(account.credentials, ports.credentialIds);
    } else {
      // Same answer shape for a name nobody (active) has: it must not reveal who has an account.
      decoy = true;
      allowCredentials = await decoyCredentials(username, ports.credentialIds);
    }
  }

  const options = await generateAuthenticationOptions({
    rpID: config.rpId,
    allowCredentials,
    userVerification,
    timeout: config.challengeTtlSeconds * 1000,
  });
  await ports.challenges.put({
    ceremony: "authentication",
    challenge: options.challenge,
    expiresAt: ports.now().getTime() + config.challengeTtlSeconds * 1000,
    userVerification,
    userId,
    ...(decoy ? { decoy } : {}),
  });
  return options;
}
