import {
  type RegistrationResponseJSON,
  type VerifiedRegistrationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { cose, decodeCredentialPublicKey } from "@simplewebauthn/server/helpers";
import { type Bytes, fromBase64URL, randomBytes, toBase64URL } from "../crypto/encoding";
import type { NewCredentialRow } from "../db/schema";
import type { StateOf } from "../durable-objects/challenge-store";
import { AppError, CeremonyFailure, originNotAllowed, reasonOf, tooManyCredentials } from "../errors";
import { defaultPasskeyName } from "../metadata/authenticator-names";
import { attestationObjectRefusal, attestationRulesRefusal } from "./attestation-statement";
import { attestationTrustRefusal, takeOverVendorRoots } from "./attestation-trust";
import { type ClientData, crossOriginRefusal, parseClientData } from "./client-data";
import { checkOrigin } from "./origin-policy";
import { type CeremonyPolicy, recordedPolicy } from "./policy";
import type { CeremonyPorts } from "./ports";
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

type RegistrationState = StateOf<"registration">;
type RegistrationInfo = NonNullable<VerifiedRegistrationResponse["registrationInfo"]>;

/** Records the ceremony's one attempt event for a refusal and throws it (the reason goes to the log only). */
type Refuse = (reason: string, failure?: CeremonyFailure) => never;

/** What each step after the challenge's redemption works from. */
type Registration = {
  response: RegistrationResponseJSON;
  state: RegistrationState;
  policy: CeremonyPolicy;
  ports: CeremonyPorts;
  refuse: Refuse;
};

/**
 * Verifies a new passkey (WebAuthn L3 §7.1, "Registering a New Credential"), in the spec's
 * order where the order is ours to choose, each step a function below. `policy` must be the one
 * the ceremony was started under (else its challenge is unknown here).
 */
export async function finishRegistration(
  response: RegistrationResponseJSON,
  ports: CeremonyPorts,
  policy: CeremonyPolicy,
): Promise<RegisteredCredential> {
  // §7.1, first steps: the response's shape and its client data read as JSON.
  assertIdMatchesRawId(response);
  const clientData = parseClientData(response.response.clientDataJSON);
  const state = await redeemChallenge(clientData, ports, policy);
  const registration: Registration = { response, state, policy, ports, refuse: refusals(ports, state) };
  const expectedOrigins = checkClientOrigin(registration, clientData);
  checkStartingSession(registration);
  checkEmbedding(registration, clientData);
  const info = await verifyAttestation(registration, expectedOrigins);
  const row = await newCredentialRow(registration, info);
  await storeCredential(registration, row);

  const { events } = ports;
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
    credentialId: info.credential.id,
    name: row.name,
    aaguid: info.aaguid,
    algorithm: row.algorithm,
    attestationFormat: info.fmt,
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    userVerified: info.userVerified,
    transports: row.transports ?? [],
    createdAt: row.createdAt.toISOString(),
    token: session.token,
    tokenExpiresAt: session.expiresAt.toISOString(),
  };
}

/**
 * §7.1, "verify C.challenge", done first of all the checks: spent (while the rate limiter
 * decides) before anything else is checked, so a failed attempt burns it too. Unknown, expired,
 * spent, or started under another policy: refused.
 */
async function redeemChallenge(
  clientData: ClientData,
  ports: CeremonyPorts,
  policy: CeremonyPolicy,
): Promise<RegistrationState> {
  const state = await ports.challenges.redeem(clientData.challenge, {
    ceremony: "registration",
    policy: recordedPolicy(policy),
    storage: policy.challengeStorage,
  });
  if (!state) {
    ports.events.record({ event: "registration_attempt", outcome: "failure", reason: "unknown_or_expired_challenge" });
    throw new AppError("INVALID_CHALLENGE");
  }
  return state;
}

function refusals(ports: CeremonyPorts, state: RegistrationState): Refuse {
  return (reason, failure = new CeremonyFailure(reason, "REGISTRATION_FAILED")) => {
    ports.events.record({ event: "registration_attempt", outcome: "failure", reason, userId: state.userId });
    throw failure;
  };
}

/** §7.1, "verify C.origin", before the library compares it: a refusal that names the origin. */
function checkClientOrigin({ ports, refuse }: Registration, clientData: ClientData): string[] {
  const origins = checkOrigin(ports.config, clientData.origin);
  if (origins.refused !== null) {
    return refuse("origin_not_allowed", originNotAllowed("REGISTRATION_FAILED", origins.refused));
  }
  return origins.expected;
}

/**
 * Under the native API's policy a passkey joins an existing account only on behalf of the
 * session that asked for it (sealed in the challenge); the options alone are never enough.
 */
function checkStartingSession({ state, policy, refuse }: Registration): void {
  if (state.existingUser && policy.addToExistingAccount === "own-session" && !state.session) {
    refuse("session_missing");
  }
}

/**
 * §7.1, "C.crossOrigin" and "C.topOrigin": a ceremony in a cross-origin iframe only under a top
 * page the operator allowed (client-data.ts).
 */
function checkEmbedding({ ports, refuse }: Registration, clientData: ClientData): void {
  const embedding = crossOriginRefusal(clientData, ports.config.topOrigins);
  if (embedding) refuse(embedding);
}

/**
 * §7.1, from the attestation object to its statement: the object read strictly, then
 * SimpleWebAuthn (client data type, challenge and origin, RP ID hash, the UP and UV flags, the
 * algorithm among the policy's, the attestation statement), then our attestation rules and
 * ATTESTATION_TRUST.
 */
async function verifyAttestation(
  { response, state, policy, ports, refuse }: Registration,
  expectedOrigins: string[],
): Promise<RegistrationInfo> {
  // Read strictly before the library reads it: it tests the statement's members for truthiness only.
  const malformed = attestationObjectRefusal(fromBase64URL(response.response.attestationObject));
  if (malformed) return refuse(`attestation_malformed:${malformed}`);

  // The library must not judge vendor chains itself: attestationTrustRefusal does, below.
  takeOverVendorRoots();
  let verification: VerifiedRegistrationResponse;
  try {
    verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: state.challenge,
      expectedOrigin: expectedOrigins,
      expectedRPID: ports.config.rpId,
      requireUserVerification: state.userVerification === "required",
      requireUserPresence: !state.conditional,
      supportedAlgorithmIDs: [...policy.algorithms],
    });
  } catch (error) {
    return refuse(`verification_error:${reasonOf(error)}`);
  }
  if (!verification.verified) return refuse("attestation_invalid");
  const info = verification.registrationInfo;
  const invalid = await attestationRulesRefusal(info);
  if (invalid) return refuse(`attestation_invalid:${invalid}`);
  // ATTESTATION_TRUST and the AAGUID lists: only once the attestation itself is genuine.
  const untrusted = await attestationTrustRefusal(info, ports);
  if (untrusted) return refuse(`attestation_untrusted:${untrusted}`);
  return info;
}

/**
 * §7.1, the credential id checks: the id is the attested one and not yet registered; the row to
 * store, its id sealed and indexed.
 */
async function newCredentialRow(
  { response, state, ports, refuse }: Registration,
  info: RegistrationInfo,
): Promise<NewCredentialRow & { createdAt: Date }> {
  const rawId = info.credential.id;
  // The library does not compare the id the client reported with the one the authenticator
  // attested; a response where they differ is forged.
  if (rawId !== response.rawId) return refuse("credential_id_mismatch");
  const [credentialIdHash = "", ...previousIndexes] = await ports.credentialIds.blindIndexes(fromBase64URL(rawId));
  // During an index key rotation the unique index cannot see a row stored under the previous
  // index, so that one is looked up (one extra read, only while a previous key is configured).
  if (previousIndexes.length > 0 && (await ports.credentials.findByAnyIdHash(previousIndexes))) {
    ports.events.record({
      event: "registration_attempt",
      outcome: "failure",
      reason: "credential_exists",
      userId: state.userId,
    });
    throw new AppError("CREDENTIAL_EXISTS");
  }
  const now = ports.now();
  return {
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
}

/**
 * §7.1, last step, store the credential record: a new account with its first passkey, or a
 * passkey added to an existing account (in one write that also checks the account's limit and,
 * under the native policy, that the starting session is still good). A refusal from storage is
 * diagnosed and recorded.
 */
async function storeCredential({ state, ports, refuse }: Registration, row: NewCredentialRow): Promise<void> {
  const { config, events } = ports;
  try {
    if (state.existingUser) {
      const added = await ports.credentials.addCredential(row, config.maxCredentialsPerUser, state.session);
      if (!added) {
        // Which condition refused it (one more read, on this failure path only).
        const { account: owner, revoked } = state.session
          ? await ports.credentials.findSessionAccount(state.userId, state.session.sessionId)
          : { account: await ports.credentials.findAccountById(state.userId), revoked: false };
        if (!owner?.user.isActive) return refuse("account_gone");
        if (state.session) {
          const starter = owner.credentials.find((passkey) => passkey.id === state.session?.passkeyId);
          if (revoked || !starter?.isActive || state.session.expiresAt <= Date.now()) return refuse("session_ended");
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
}

/** Read from the verified COSE key itself, not from the client's unverified publicKeyAlgorithm. */
function algorithmOf(publicKey: Bytes): number {
  return Number(decodeCredentialPublicKey(publicKey).get(cose.COSEKEYS.alg));
}
