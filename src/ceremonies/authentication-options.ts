import { generateAuthenticationOptions, type PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import type { UserVerificationLevel } from "../config/config";
import type { CredentialIdProtection } from "../crypto/credential-id-protection";
import { toBase64URL } from "../crypto/encoding";
import { type CredentialDescriptor, describeCredentials } from "./credential-descriptors";
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
  let allowCredentials: CredentialDescriptor[] | undefined;
  if (input.username !== undefined) {
    const username = normalizeUsername(input.username);
    const user = await ports.users.findByUsername(username);
    const rows = user?.isActive ? await ports.credentials.listForUser(user.id, { activeOnly: true }) : [];
    if (user && rows.length > 0) {
      userId = user.id;
      allowCredentials = await describeCredentials(rows, ports.credentialIds);
    } else {
      // Same answer shape for a name nobody has: it must not reveal who has an account.
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
  });
  return options;
}

/**
 * Stable for a given name (asking twice gives the same ids, as it would for a real user)
 * and unguessable without the server key. The ids never verify: no row has their index.
 */
async function decoyCredentials(username: string, protection: CredentialIdProtection): Promise<CredentialDescriptor[]> {
  const bytes = await protection.derive("decoy-credential", username);
  return [{ id: toBase64URL(bytes), transports: ["hybrid", "internal"] }];
}
