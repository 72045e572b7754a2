import {
  type AuthenticationExtensionsClientInputs,
  generateAuthenticationOptions,
  type PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import type { UserVerificationLevel } from "../config/config";
import type { CeremonyProfile } from "../durable-objects/challenge-store";
import { AppError } from "../errors";
import { isConformanceAccount } from "./conformance-accounts";
import { type CredentialDescriptor, describeCredentials } from "./credential-descriptors";
import { decoyCredentials } from "./decoy-credentials";
import type { CeremonyPorts } from "./ports";
import { effectiveUserVerification } from "./user-verification";
import { normalizeUsername } from "./username";

export type AuthenticationOptionsInput = {
  /** Omitted for a discoverable (usernameless / autofill) sign-in. */
  username?: string;
  userVerification?: UserVerificationLevel;
  extensions?: AuthenticationExtensionsClientInputs;
  /**
   * "fido-conformance" (the FIDO binding, a test surface): an unknown username is refused
   * (the FIDO rule; the native API answers with decoys instead), `userVerification` and
   * `extensions` go out exactly as requested, and the assertion may lack user presence unless
   * user verification is required.
   */
  profile?: CeremonyProfile;
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
    // Each surface reaches only its own accounts (conformance-accounts.ts); others are unknown.
    const reachable = isConformanceAccount(username) === (input.profile === "fido-conformance");
    if (reachable && account?.user.isActive && account.credentials.length > 0) {
      userId = account.user.id;
      allowCredentials = await describeCredentials(account.credentials, ports.credentialIds);
    } else if (input.profile === "fido-conformance") {
      throw new AppError("USER_NOT_FOUND", "User does not exist or has no passkey");
    } else {
      // Same answer shape for a name nobody (active) has: it must not reveal who has an account.
      decoy = true;
      allowCredentials = await decoyCredentials(username, ports.credentialIds);
    }
  }

  const challenge = await ports.challenges.issue({
    ceremony: "authentication",
    expiresAt: ports.now().getTime() + config.challengeTtlSeconds * 1000,
    userVerification,
    userId,
    ...(decoy ? { decoy } : {}),
    ...(input.profile ? { profile: input.profile } : {}),
  });
  const options = await generateAuthenticationOptions({
    rpID: config.rpId,
    // The ceremony's state, sealed (native API) or a key to it (conformance binding).
    challenge,
    allowCredentials,
    userVerification,
    timeout: config.challengeTtlSeconds * 1000,
    extensions: input.extensions,
  });
  if (input.profile === "fido-conformance") {
    // The FIDO echo rule: what was asked for, not the server's stricter floor.
    options.userVerification = input.userVerification ?? "preferred";
    if (input.extensions) options.extensions = structuredClone(input.extensions);
  }
  return options;
}
