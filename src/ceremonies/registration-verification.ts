import { type RegistrationResponseJSON, verifyRegistrationResponse } from "@simplewebauthn/server";
import { cose, decodeCredentialPublicKey } from "@simplewebauthn/server/helpers";
import { type Bytes, fromBase64URL, randomBytes, toBase64URL } from "../crypto/encoding";
import type { NewCredentialRow } from "../db/schema";
import type { CeremonyProfile } from "../durable-objects/challenge-store";
import { AppError, CeremonyFailure, originNotAllowed, reasonOf, tooManyCredentials } from "../errors";
import { defaultPasskeyName } from "../metadata/authenticator-names";
import { attestationObjectRefusal, attestationRulesRefusal } from "./attestation-statement";
import { attestationTrustRefusal, takeOverVendorRoots } from "./attestation-trust";
import { crossOriginRefusal, parseClientData } from "./client-data";
import { checkOrigin } from "./origin-policy";
import type { CeremonyPorts } from "./ports";
import { algorithmsFor } from "./registration-options";
import { assertIdMatchesRawId } from "./response-shape";
import { usernameSkeleton } from "./username";

export type RegisteredCredential = {
  userId: string;
  username: string;
  /** Our id for this passkey: use it with /api/v1/credentials/:id. */
  passkeyId: string;
  /** The WebAuthn credential id (base64url), as the browser knows it. */
  credentialId: string;
  name: string;
  aaguid: string;
  algorithm: number;
  attestationFormat: string;
  deviceType: "singleDevice" | "multiDevice";
  backedUp: boolean;
  userVerified: boolean;
  transports: string[];
  createdAt: string;
  token: string;
  tokenExpiresAt: string;
};

export async function finishRegistration(
  response: RegistrationResponseJSON,
  ports: CeremonyPorts,
  /** The binding that finishes the ceremony must be the one that started it. */
  expected: { profile?: CeremonyProfile } = {},
): Promise<RegisteredCredential> {
  const { config, events } = ports;
  assertIdMatchesRawId(response);
  const clientData = parseClientData(response.response.clientDataJSON);
  // Spent (while the rate limiter decides) before anything else is checked: a failed attempt
  // burns it too.
  const state = await ports.challenges.redeem(clientData.challenge, {
    ceremony: "registration",
    profile: expected.profile,
  });
  if (!state) {
    events.record({ event: "registration_attempt", outcome: "failure", reason: "unknown_or_expired_challenge" });
    throw new AppError("INVALID_CHALLENGE");
  }
  const fail = (reason: string, failure = new CeremonyFailure(reason, "REGISTRATION_FAILED")): never => {
    events.record({ event: "registration_attempt", outcome: "failure", reason, userId: state.userId });
    throw failure;
  };
  const origins = checkOrigin(config, response.response.clientDataJSON);
  if (origins.refused !== null) {
    return fail("origin_not_allowed", originNotAllowed("REGISTRATION_FAILED", origins.refused));
  }

  // Through the native API a passkey joins an existing account only on behalf of the session
  // that asked for it (sealed in the challenge); the options alone are never enough.
  if (state.existingUser && state.profile === undefined && !state.session) return fail("session_missing");
  const embedding = crossOriginRefusal(clientData, config.topOrigins);
  if (embedding) return fail(embedding);

  // Read strictly before the library reads it: it tests the statement's members for truthiness only.
  const malformed = attestationObjectRefusal(fromBase64URL(response.response.attestationObject));
  if (malformed) return fail(`attestation_malformed:${malformed}`);

  // The library must not judge vendor chains itself: attestationTrustRefusal does, below.
  takeOverVendorRoots();
  let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: state.challenge,
      expectedOrigin: origins.expected,
      expectedRPID: config.rpId,
      requireUserVerification: state.userVerification === "required",
      requireUserPresence: !state.conditional,
      supportedAlgorithmIDs: algorithmsFor(state.profile),
    });
  } catch (error) {
    return fail(`verification_error:${reasonOf(error)}`);
  }
  if (!verification.verified) return fail("attestation_invalid");
  const info = verification.registrationInfo;
  const invalid = await attestationRulesRefusal(info);
  if (invalid) return fail(`attestation_invalid:${invalid}`);
  // ATTESTATION_TRUST and the AAGUID lists: only once the attestation itself is genuine.
  const untrusted = await attestationTrustRefusal(info, ports);
  if (untrusted) return fail(`attestation_untrusted:${untrusted}`);

  const rawId = info.credential.id;
  // The library does not compare the id the client reported with the one the authenticator
  // attested; a response where they differ is forged.
  if (rawId !== response.rawId) return fail("credential_id_mismatch");
  const [credentialIdHash = "", ...previousIndexes] = await ports.credentialIds.blindIndexes(fromBase64URL(rawId));
  // During an index key rotation the unique index cannot see a row stored under the previous
  // index, so that one is looked up (one extra read, only while a previous key is configured).
  if (previousIndexes.length > 0 && (await ports.credentials.findByAnyIdHash(previousIndexes))) {
    events.record({
      event: "registration_attempt",
      outcome: "failure",
      reason: "credential_exists",
      userId: state.userId,
    });
    throw new AppError("CREDENTIAL_EXISTS");
  }
  const now = ports.now();
  const row: NewCredentialRow = {
    id: toBase64URL(randomBytes(16)),
    userId: state.userId,
    credentialIdHash,
    credentialIdEncrypted: await ports.credentialIds.seal(fromBase64URL(rawId), credentialIdHash),
    publicKey: toBase64URL(info.credential.publicKey),
    algorithm: algorithmOf(info.credential.publicKey),
    aaguid: info.aaguid,
    signCount: info.credential.counter,
    transports: response.response.transports ?? [],
    deviceType: info.credentialDeviceType,
    backupEligible: info.credentialDeviceType === "multiDevice",
    backupState: info.credentialBackedUp,
    userVerified: info.userVerified,
    attestationFormat: info.fmt,
    // Named after the authenticator model it claims to be (a display hint): the owner can rename it.
    name: defaultPasskeyName(info.aaguid),
    createdAt: now,
    updatedAt: now,
  };

  try {
    if (state.existingUser) {
      const added = await ports.credentials.addCredential(row, config.maxCredentialsPerUser, state.session);
      if (!added) {
        // Which condition refused it (one more read, on this failure path only).
        const { account: owner, revoked } = state.session
          ? await ports.credentials.findSessionAccount(state.userId, state.session.sessionId)
          : { account: await ports.credentials.findAccountById(state.userId), revoked: false };
        if (!owner?.user.isActive) return fail("account_gone");
        if (state.session) {
          const starter = owner.credentials.find((passkey) => passkey.id === state.session?.passkeyId);
          if (revoked || !starter?.isActive || state.session.expiresAt <= Date.now()) return fail("session_ended");
        }
        throw tooManyCredentials(config.maxCredentialsPerUser);
      }
    } else {
      await ports.credentials.createUserWithCredential(
        {
          id: state.userId,
          username: state.username,
          usernameSkeleton: usernameSkeleton(state.username),
          displayName: state.displayName,
        },
        row,
      );
    }
  } catch (error) {
    // A CeremonyFailure was recorded where it was raised; a conflict from storage is not yet.
    if (error instanceof AppError && !(error instanceof CeremonyFailure)) {
      const reason = error.code.toLowerCase();
      events.record({ event: "registration_attempt", outcome: "failure", reason, userId: state.userId });
    }
    throw error;
  }

  events.record({ event: "registration_attempt", outcome: "success", userId: state.userId, credentialRowId: row.id });
  events.record({
    event: "credential_added",
    outcome: "success",
    reason: state.existingUser ? "added_to_account" : "account_created",
    userId: state.userId,
    credentialRowId: row.id,
  });
  const session = await ports.sessions.issue({
    userId: state.userId,
    username: state.username,
    passkeyId: row.id,
    userVerified: info.userVerified,
  });
  return {
    userId: state.userId,
    username: state.username,
    passkeyId: row.id,
    credentialId: rawId,
    name: row.name,
    aaguid: info.aaguid,
    algorithm: row.algorithm,
    attestationFormat: info.fmt,
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    userVerified: info.userVerified,
    transports: row.transports ?? [],
    createdAt: now.toISOString(),
    token: session.token,
    tokenExpiresAt: session.expiresAt.toISOString(),
  };
}

/** Read from the verified COSE key itself, not from the client's unverified publicKeyAlgorithm. */
function algorithmOf(publicKey: Bytes): number {
  return Number(decodeCredentialPublicKey(publicKey).get(cose.COSEKEYS.alg));
}
