import type { CredentialIdProtection } from "../crypto/credential-id-protection";
import { toBase64URL } from "../crypto/encoding";
import type { CredentialRow, UserRow } from "../db/schema";
import { authenticatorName } from "../metadata/authenticator-names";

/** A passkey as its owner (and an operator) sees it. The one row-to-JSON mapping of the API. */
export type PasskeySummary = {
  /** Our id of the passkey: the `:id` of /api/v1/credentials/:id. */
  id: string;
  /** The WebAuthn credential id (base64url), as browsers and the Signal API know it. */
  credentialId: string;
  name: string;
  aaguid: string;
  /**
   * The authenticator model its AAGUID names (a display hint): name null when the AAGUID is
   * unknown or all zeros. No icon: the AAGUID table in the bundle holds names only.
   */
  authenticator: { name: string | null };
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
  transports: string[];
  deviceType: CredentialRow["deviceType"];
  backupEligible: boolean;
  backedUp: boolean;
  userVerified: boolean;
  attestationFormat: string;
  algorithm: number;
  /** Set when a sign-in showed signs of a cloned or tampered authenticator. */
  flag: CredentialRow["flag"];
  flaggedAt: string | null;
  /** False when an operator disabled it: it cannot sign in until enabled again. */
  isActive: boolean;
};

export type AccountSummary = {
  /** The WebAuthn user handle (base64url): `userId` of the Signal API. */
  id: string;
  username: string;
  displayName: string;
  createdAt: string;
  updatedAt: string;
  isActive: boolean;
};

export async function passkeySummary(row: CredentialRow, protection: CredentialIdProtection): Promise<PasskeySummary> {
  return {
    id: row.id,
    credentialId: toBase64URL(await protection.open(row.credentialIdEncrypted, row.credentialIdHash)),
    name: row.name,
    aaguid: row.aaguid,
    authenticator: { name: authenticatorName(row.aaguid) },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    transports: row.transports,
    deviceType: row.deviceType,
    backupEligible: row.backupEligible,
    backedUp: row.backupState,
    userVerified: row.userVerified,
    attestationFormat: row.attestationFormat,
    algorithm: row.algorithm,
    flag: row.flag,
    flaggedAt: row.flaggedAt?.toISOString() ?? null,
    isActive: row.isActive,
  };
}

export function passkeySummaries(rows: CredentialRow[], protection: CredentialIdProtection): Promise<PasskeySummary[]> {
  return Promise.all(rows.map((row) => passkeySummary(row, protection)));
}

export function accountSummary(user: UserRow): AccountSummary {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
    isActive: user.isActive,
  };
}
