import { type AuthenticationResponseJSON, verifyAuthenticationResponse } from "@simplewebauthn/server";
import { isoUint8Array, toHash, verifySignature } from "@simplewebauthn/server/helpers";
import { fromBase64URL } from "../crypto/encoding";
import type { CredentialFlag } from "../db/credential-repository";
import type { CeremonyProfile } from "../durable-objects/challenge-store";
import { AppError, CeremonyFailure, originNotAllowed, reasonOf } from "../errors";
import { crossOriginRefusal, parseClientData } from "./client-data";
import { isConformanceAccount } from "./conformance-accounts";
import { isDecoyCredentialId, verifyAgainstDecoyKey } from "./decoy-credentials";
import { checkOrigin } from "./origin-policy";
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

export async function finishAuthentication(
  response: AuthenticationResponseJSON,
  ports: CeremonyPorts,
  /** The binding that finishes the ceremony must be the one that started it. */
  expected: { profile?: CeremonyProfile } = {},
): Promise<AuthenticatedUser> {
  const { config, events } = ports;
  assertIdMatchesRawId(response);
  const clientData = parseClientData(response.response.clientDataJSON);
  const rawId = fromBase64URL(response.rawId);
  // During an index key rotation the id may still be stored under the previous index.
  const indexes = await ports.credentialIds.blindIndexes(rawId);
  // The credential is read (from the primary: a passkey or account disabled a moment ago is
  // refused at once) while the challenge is spent and the rate limiter decides: the three are
  // independent, and on the edge waiting for all at once is one round trip instead of three.
  // The read's outcome (or failure) counts only once the challenge is known to be good.
  const lookup = ports.credentials.findByAnyIdHash(indexes);
  lookup.catch(() => undefined);
  // Spent before anything else is checked: a failed attempt burns it too.
  const state = await ports.challenges.redeem(clientData.challenge, {
    ceremony: "authentication",
    profile: expected.profile,
  });
  if (!state) {
    events.record({ event: "authentication_attempt", outcome: "failure", reason: "unknown_or_expired_challenge" });
    throw new AppError("INVALID_CHALLENGE");
  }
  // Every failure below looks the same to the client; the reason goes to the log only. The one
  // exception is a refused origin, which names the origin and RP_ORIGINS (errors.ts).
  const fail = (
    reason: string,
    userId: string | null = state.userId,
    credentialRowId?: string,
    failure = new CeremonyFailure(reason),
  ): never => {
    events.record({ event: "authentication_attempt", outcome: "failure", reason, userId, credentialRowId });
    throw failure;
  };
  const origins = checkOrigin(config, response.response.clientDataJSON);
  if (origins.refused !== null) {
    return fail("origin_not_allowed", undefined, undefined, originNotAllowed("AUTHENTICATION_FAILED", origins.refused));
  }

  const found = await lookup;
  if (!found) {
    // A decoy id (or any id we never issued) is refused after the same work a real one with
    // a bad signature gets, so the two cannot be told apart by timing either.
    await verifyAgainstDecoyKey(
      response,
      { challenge: state.challenge, requireUserVerification: state.userVerification === "required" },
      config,
    );
    if (await isDecoyCredentialId(rawId, ports.credentialIds)) return fail("unknown_credential");
    // Neither a passkey of ours nor a decoy: removed, or never registered here. The answer
    // echoes the id the client sent so it can tell its passkey provider to stop offering it
    // (Signal API); it says nothing about any account.
    events.record({
      event: "authentication_attempt",
      outcome: "failure",
      reason: "unknown_credential",
      userId: state.userId,
    });
    throw new CeremonyFailure("unknown_credential", "AUTHENTICATION_FAILED", {
      details: { signals: [unknownCredential(config.rpId, response.rawId)] },
    });
  }
  const { credential, user } = found;
  // A ceremony answered with decoys accepts nothing, not even a valid passkey of another account.
  if (state.decoy) return fail("decoy_ceremony");
  if (state.userId !== null && credential.userId !== state.userId) return fail("credential_of_another_user");
  // The binding and the native API each sign in only their own accounts (conformance-accounts.ts).
  if (isConformanceAccount(user.username) !== (state.profile === "fido-conformance")) {
    return fail("conformance_account_boundary", user.id, credential.id);
  }
  const userHandle = response.response.userHandle;
  if (userHandle === undefined) {
    // Android hybrid sign-ins may omit userHandle: the account the ceremony was started for
    // (checked above) is the answer. A usernameless ceremony named no account, and then the
    // authenticator's userHandle is the only statement of who signs in (WebAuthn L3 §7.2 step 6).
    if (state.userId === null) return fail("user_handle_missing", credential.userId, credential.id);
  } else if (userHandle !== credential.userId) {
    return fail("user_handle_mismatch", credential.userId, credential.id);
  }
  if (!credential.isActive) return fail("credential_disabled", user.id, credential.id);
  if (!user.isActive) return fail("user_disabled", user.id, credential.id);
  const embedding = crossOriginRefusal(clientData, config.topOrigins);
  if (embedding) return fail(embedding, user.id, credential.id);

  let verification: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: state.challenge,
      expectedOrigin: origins.expected,
      expectedRPID: config.rpId,
      ...(config.topOrigins.length > 0 ? { expectedTopOrigin: config.topOrigins } : {}),
      requireUserVerification: state.userVerification === "required",
      // FIDO conformance rule: UP and UV may both be clear unless UV was required.
      ...(state.profile === "fido-conformance"
        ? { advancedFIDOConfig: { userVerification: state.userVerification } }
        : {}),
      credential: {
        id: response.rawId,
        publicKey: fromBase64URL(credential.publicKey),
        // Our own counter rule runs below, after the signature is known to be genuine, so a
        // forged response can never raise a clone alarm; the library's check is neutralised.
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
      events.record({
        event: "backup_flag_regression",
        outcome: "failure",
        reason: "backup_state_without_eligibility",
        userId: user.id,
        credentialRowId: credential.id,
      });
      await flagPasskey(ports, credential.id, "backup_flag_regression");
      return fail("backup_state_without_eligibility", user.id, credential.id);
    }
    return fail(`verification_error:${reasonOf(error)}`, user.id, credential.id);
  }
  if (!verification.verified) return fail("signature_invalid", user.id, credential.id);
  const info = verification.authenticationInfo;

  const stored = credential.signCount;
  if ((stored > 0 || info.newCounter > 0) && info.newCounter <= stored) {
    events.record({
      event: "clone_suspected",
      outcome: "failure",
      reason: `counter_not_increasing:${stored}->${info.newCounter}`,
      userId: user.id,
      credentialRowId: credential.id,
    });
    await flagPasskey(ports, credential.id, "clone_suspected");
    return fail("counter_regression", user.id, credential.id);
  }
  const backupEligible = info.credentialDeviceType === "multiDevice";
  if (credential.backupEligible && !backupEligible) {
    events.record({
      event: "backup_flag_regression",
      outcome: "failure",
      reason: "backup_eligible_cleared",
      userId: user.id,
      credentialRowId: credential.id,
    });
    await flagPasskey(ports, credential.id, "backup_flag_regression");
    return fail("backup_eligible_cleared", user.id, credential.id);
  }

  const now = ports.now();
  // A row still protected under older keys is brought up to date in the same write that
  // records the sign-in: key rotation costs no extra round trip.
  const protectedId = await ports.credentialIds.upToDate(rawId, credential);
  const unchanged =
    stored === 0 &&
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
  } else {
    const recorded = await ports.credentials.recordAssertion(credential, {
      signCount: info.newCounter,
      backupEligible,
      backupState: info.credentialBackedUp,
      deviceType: info.credentialDeviceType,
      usedAt: now,
      ...(protectedId ? { protectedId } : {}),
    });
    if (!recorded) return fail("concurrent_assertion", user.id, credential.id);
  }

  events.record({
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
