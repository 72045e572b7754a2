import {
  type AuthenticationResponseJSON,
  type VerifiedAuthenticationResponse,
  verifyAuthenticationResponse,
} from "@simplewebauthn/server";
import { isoUint8Array, toHash, verifySignature } from "@simplewebauthn/server/helpers";
import { type Bytes, fromBase64URL } from "../crypto/encoding";
import type { CredentialFlag, CredentialWithOwner } from "../db/credential-repository";
import type { StateOf } from "../durable-objects/challenge-store";
import { AppError, CeremonyFailure, originNotAllowed, reasonOf } from "../errors";
import { backupEligibilityCleared, counterRegressed, userHandleRefusal } from "./assertion-rules";
import { type ClientData, crossOriginRefusal, parseClientData } from "./client-data";
import { isDecoyCredentialId, verifyAgainstDecoyKey } from "./decoy-credentials";
import { checkOrigin } from "./origin-policy";
import { type CeremonyPolicy, recordedPolicy } from "./policy";
import type { CeremonyPorts } from "./ports";
import { assertIdMatchesRawId } from "./response-shape";
import { unknownCredential } from "./webauthn-signals";

export type AuthenticatedUser = {
  userId: string;
  username: string;
  passkeyId: string;
  credentialId: string;
  signCount: number;
  userVerified: boolean;
  backedUp: boolean;
  token: string;
  tokenExpiresAt: string;
};

type AuthenticationState = StateOf<"authentication">;
type AssertionInfo = VerifiedAuthenticationResponse["authenticationInfo"];

/**
 * Records the ceremony's one attempt event for a refusal and throws it. Every refusal looks the
 * same to the client; the reason goes to the log only. The one exception is a refused origin,
 * which names the origin and RP_ORIGINS (errors.ts).
 */
type Refuse = (reason: string, userId?: string | null, credentialRowId?: string, failure?: CeremonyFailure) => never;

/** What each step after the challenge's redemption works from. */
type Assertion = {
  response: AuthenticationResponseJSON;
  state: AuthenticationState;
  policy: CeremonyPolicy;
  ports: CeremonyPorts;
  refuse: Refuse;
};

/**
 * Verifies a sign-in (WebAuthn L3 §7.2, "Verifying an Authentication Assertion"), in the
 * spec's order where the order is ours to choose, each step a function below. `policy` must be
 * the one the ceremony was started under (else its challenge is unknown here).
 */
export async function finishAuthentication(
  response: AuthenticationResponseJSON,
  ports: CeremonyPorts,
  policy: CeremonyPolicy,
): Promise<AuthenticatedUser> {
  const { clientData, rawId, lookup } = await readAssertion(response, ports);
  const state = await redeemChallenge(clientData, ports, policy);
  const assertion: Assertion = { response, state, policy, ports, refuse: refusals(ports, state) };
  const expectedOrigins = checkClientOrigin(assertion, clientData);
  const found = await findCredential(assertion, rawId, lookup, expectedOrigins);
  checkCredentialBinding(assertion, found);
  checkEmbedding(assertion, clientData, found);
  const info = await verifyAssertionSignature(assertion, found, expectedOrigins);
  await checkCloneSignals(assertion, info, found);
  await recordUse(assertion, rawId, info, found);
  const { credential, user } = found;

  ports.events.record({
    event: "authentication_attempt",
    outcome: "success",
    userId: user.id,
    credentialRowId: credential.id,
  });
  const session = await ports.sessions.issue({
    userId: user.id,
    username: user.username,
    passkeyId: credential.id,
    userVerified: info.userVerified,
  });
  return {
    userId: user.id,
    username: user.username,
    passkeyId: credential.id,
    credentialId: response.rawId,
    signCount: info.newCounter,
    userVerified: info.userVerified,
    backedUp: info.credentialBackedUp,
    token: session.token,
    tokenExpiresAt: session.expiresAt.toISOString(),
  };
}

/**
 * §7.2, first steps: the response's shape, its client data read as JSON, and the credential's
 * lookup started. The lookup (from the primary: a passkey or account disabled a
 * moment ago is refused at once) runs while the challenge is spent and the rate limiter decides:
 * the three are independent, and on the edge waiting for all at once is one round trip instead
 * of three. Its outcome (or failure) counts only once the challenge is known to be good.
 */
async function readAssertion(response: AuthenticationResponseJSON, ports: CeremonyPorts) {
  assertIdMatchesRawId(response);
  const clientData = parseClientData(response.response.clientDataJSON);
  const rawId = fromBase64URL(response.rawId);
  // During an index key rotation the id may still be stored under the previous index.
  const indexes = await ports.credentialIds.blindIndexes(rawId);
  const lookup = ports.credentials.findByAnyIdHash(indexes);
  lookup.catch(() => undefined);
  return { clientData, rawId, lookup };
}

/**
 * §7.2, "verify C.challenge", done first of all the checks: spent before anything else is
 * checked, so a failed attempt burns it too. Unknown, expired, spent, or started under another
 * policy: refused.
 */
async function redeemChallenge(
  clientData: ClientData,
  ports: CeremonyPorts,
  policy: CeremonyPolicy,
): Promise<AuthenticationState> {
  const state = await ports.challenges.redeem(clientData.challenge, {
    ceremony: "authentication",
    policy: recordedPolicy(policy),
    storage: policy.challengeStorage,
  });
  if (!state) {
    ports.events.record({
      event: "authentication_attempt",
      outcome: "failure",
      reason: "unknown_or_expired_challenge",
    });
    throw new AppError("INVALID_CHALLENGE");
  }
  return state;
}

function refusals(ports: CeremonyPorts, state: AuthenticationState): Refuse {
  return (reason, userId = state.userId, credentialRowId, failure = new CeremonyFailure(reason)) => {
    ports.events.record({ event: "authentication_attempt", outcome: "failure", reason, userId, credentialRowId });
    throw failure;
  };
}

/** §7.2, "verify C.origin", before the library compares it: a refusal that names the origin. */
function checkClientOrigin({ ports, refuse }: Assertion, clientData: ClientData): string[] {
  const origins = checkOrigin(ports.config, clientData.origin);
  if (origins.refused !== null) {
    return refuse(
      "origin_not_allowed",
      undefined,
      undefined,
      originNotAllowed("AUTHENTICATION_FAILED", origins.refused),
    );
  }
  return origins.expected;
}

/**
 * §7.2, look up the credential by its id. A decoy id (or any id we never issued) is refused after
 * the same work a real one with a bad signature gets, so the two cannot be told apart by timing
 * either.
 */
async function findCredential(
  { response, state, ports, refuse }: Assertion,
  rawId: Bytes,
  lookup: Promise<CredentialWithOwner | undefined>,
  expectedOrigins: string[],
): Promise<CredentialWithOwner> {
  const found = await lookup;
  if (found) return found;
  await verifyAgainstDecoyKey(
    response,
    {
      challenge: state.challenge,
      requireUserVerification: state.userVerification === "required",
      origins: expectedOrigins,
    },
    ports.config,
  );
  if (await isDecoyCredentialId(rawId, ports.credentialIds)) return refuse("unknown_credential");
  // Neither a passkey of ours nor a decoy: removed, or never registered here. The answer
  // echoes the id the client sent so it can tell its passkey provider to stop offering it
  // (Signal API); it says nothing about any account.
  ports.events.record({
    event: "authentication_attempt",
    outcome: "failure",
    reason: "unknown_credential",
    userId: state.userId,
  });
  throw new CeremonyFailure("unknown_credential", "AUTHENTICATION_FAILED", {
    details: { signals: [unknownCredential(ports.config.rpId, response.rawId)] },
  });
}

/**
 * §7.2, identify the user: the credential belongs to the account the ceremony was started for
 * (if any), to an account this policy reaches, and to the user the response names; both are
 * active.
 */
function checkCredentialBinding(
  { response, state, policy, refuse }: Assertion,
  { credential, user }: CredentialWithOwner,
): void {
  // A ceremony answered with decoys accepts nothing, not even a valid passkey of another account.
  if (state.decoy) refuse("decoy_ceremony");
  if (state.userId !== null && credential.userId !== state.userId) refuse("credential_of_another_user");
  // The binding and the native API each sign in only their own accounts.
  if (!policy.reaches(user.username)) refuse("conformance_account_boundary", user.id, credential.id);
  const handle = userHandleRefusal(response.response.userHandle, state.userId, credential.userId);
  if (handle) refuse(handle, credential.userId, credential.id);
  if (!credential.isActive) refuse("credential_disabled", user.id, credential.id);
  if (!user.isActive) refuse("user_disabled", user.id, credential.id);
}

/**
 * §7.2, "C.crossOrigin" and "C.topOrigin": a ceremony in a cross-origin iframe only under a top
 * page the operator allowed (client-data.ts).
 */
function checkEmbedding(
  { ports, refuse }: Assertion,
  clientData: ClientData,
  { credential, user }: CredentialWithOwner,
) {
  const embedding = crossOriginRefusal(clientData, ports.config.topOrigins);
  if (embedding) refuse(embedding, user.id, credential.id);
}

/**
 * §7.2, the remaining checks, by SimpleWebAuthn: client data type, challenge and origin (and
 * top origin), RP ID hash, the UP and UV flags by the policy, backup flags, and the signature.
 */
async function verifyAssertionSignature(
  { response, state, policy, ports, refuse }: Assertion,
  { credential, user }: CredentialWithOwner,
  expectedOrigins: string[],
): Promise<AssertionInfo> {
  const { config } = ports;
  let verification: VerifiedAuthenticationResponse;
  try {
    verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: state.challenge,
      expectedOrigin: expectedOrigins,
      expectedRPID: config.rpId,
      ...(config.topOrigins.length > 0 ? { expectedTopOrigin: config.topOrigins } : {}),
      requireUserVerification: state.userVerification === "required",
      ...(policy.userPresence === "unless-user-verification-required"
        ? { advancedFIDOConfig: { userVerification: state.userVerification } }
        : {}),
      credential: {
        id: response.rawId,
        publicKey: fromBase64URL(credential.publicKey),
        // Our own counter rule runs after the signature is known to be genuine, so a forged
        // response can never raise a clone alarm; the library's check is neutralised.
        counter: 0,
      },
    });
  } catch (error) {
    // BS=1 with BE=0 is impossible for a genuine authenticator. The library refuses it before
    // checking the signature, so it is flagged only if the signature proves the credential
    // itself said so: a forger must not be able to raise alarms on someone else's passkey.
    if (
      error instanceof Error &&
      error.name === "InvalidBackupFlags" &&
      (await signedBy(response, credential.publicKey))
    ) {
      ports.events.record({
        event: "backup_flag_regression",
        outcome: "failure",
        reason: "backup_state_without_eligibility",
        userId: user.id,
        credentialRowId: credential.id,
      });
      await flagPasskey(ports, credential.id, "backup_flag_regression");
      return refuse("backup_state_without_eligibility", user.id, credential.id);
    }
    return refuse(`verification_error:${reasonOf(error)}`, user.id, credential.id);
  }
  if (!verification.verified) return refuse("signature_invalid", user.id, credential.id);
  return verification.authenticationInfo;
}

/** §7.2, the signature counter, and the backup eligibility bit: signs of a cloned passkey. */
async function checkCloneSignals(
  { ports, refuse }: Assertion,
  info: AssertionInfo,
  { credential, user }: CredentialWithOwner,
): Promise<void> {
  const stored = credential.signCount;
  if (counterRegressed(stored, info.newCounter)) {
    ports.events.record({
      event: "clone_suspected",
      outcome: "failure",
      reason: `counter_not_increasing:${stored}->${info.newCounter}`,
      userId: user.id,
      credentialRowId: credential.id,
    });
    await flagPasskey(ports, credential.id, "clone_suspected");
    refuse("counter_regression", user.id, credential.id);
  }
  if (backupEligibilityCleared(credential.backupEligible, info.credentialDeviceType === "multiDevice")) {
    ports.events.record({
      event: "backup_flag_regression",
      outcome: "failure",
      reason: "backup_eligible_cleared",
      userId: user.id,
      credentialRowId: credential.id,
    });
    await flagPasskey(ports, credential.id, "backup_flag_regression");
    refuse("backup_eligible_cleared", user.id, credential.id);
  }
}

/** §7.2, last step: the stored counter, flags and last use brought up to date. */
async function recordUse(
  { ports, refuse }: Assertion,
  rawId: Bytes,
  info: AssertionInfo,
  { credential, user }: CredentialWithOwner,
): Promise<void> {
  const now = ports.now();
  const backupEligible = info.credentialDeviceType === "multiDevice";
  // A row still protected under older keys is brought up to date in the same write that
  // records the sign-in: key rotation costs no extra round trip.
  const protectedId = await ports.credentialIds.upToDate(rawId, credential);
  const unchanged =
    credential.signCount === 0 &&
    info.newCounter === 0 &&
    credential.backupEligible === backupEligible &&
    credential.backupState === info.credentialBackedUp &&
    credential.deviceType === info.credentialDeviceType;
  if (unchanged) {
    // A passkey that keeps no counter (synced passkeys report 0) with the same flags: there is
    // nothing to compare-and-swap and no rule depends on this write, so the answer does not
    // wait for it. (Two sign-ins of such a passkey at once are two genuine assertions, each on
    // its own challenge spent once: a counter of 0 cannot tell a clone apart, today or before.)
    ports.defer("credential_last_used", () => ports.credentials.recordUse(credential, now, protectedId ?? undefined));
    return;
  }
  const recorded = await ports.credentials.recordAssertion(credential, {
    signCount: info.newCounter,
    backupEligible,
    backupState: info.credentialBackedUp,
    deviceType: info.credentialDeviceType,
    usedAt: now,
    ...(protectedId ? { protectedId } : {}),
  });
  if (!recorded) refuse("concurrent_assertion", user.id, credential.id);
}

/**
 * The refusal stands even when storing its flag fails: the write is tried again after the
 * answer, and logged if that fails too (ports.background).
 */
async function flagPasskey(ports: CeremonyPorts, credentialRowId: string, flag: CredentialFlag): Promise<void> {
  const at = ports.now();
  await ports.background.attempt(`credential_flag:${flag}`, () => ports.credentials.flag(credentialRowId, flag, at));
}

/** Whether the assertion's signature was made by the stored credential key. */
async function signedBy(response: AuthenticationResponseJSON, publicKey: string): Promise<boolean> {
  try {
    const authenticatorData = fromBase64URL(response.response.authenticatorData);
    const clientDataHash = await toHash(fromBase64URL(response.response.clientDataJSON));
    return await verifySignature({
      signature: fromBase64URL(response.response.signature),
      data: isoUint8Array.concat([authenticatorData, clientDataHash]),
      credentialPublicKey: fromBase64URL(publicKey),
    });
  } catch {
    return false;
  }
}
