import { credentialIdsOf } from "../ceremonies/credential-descriptors";
import type { CredentialIdProtection } from "../crypto/credential-id-protection";
import type { MetadataRepository } from "../db/metadata-repository";
import type { CredentialRow, UserRow } from "../db/schema";
import { authenticatorName } from "../metadata/authenticator-names";
import { aaguidKey } from "../metadata/metadata-statement";

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
   * unknown or all zeros. The icon (a data: URL of a raster image) comes from FIDO metadata an
   * operator loaded into D1, never from the bundle: null without metadata for the AAGUID.
   */
  authenticator: { name: string | null; icon: string | null };
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

const ZERO_AAGUID = "00000000-0000-0000-0000-000000000000";

/** Icons by AAGUID: one D1 read, and none at all when every AAGUID is zero (no metadata has those). */
async function iconsOf(rows: CredentialRow[], metadata: MetadataRepository | undefined): Promise<Map<string, string>> {
  const keys = [...new Set(rows.filter((row) => row.aaguid !== ZERO_AAGUID).map((row) => aaguidKey(row.aaguid)))];
  if (!metadata || keys.length === 0) return new Map();
  return metadata.iconsFor(keys);
}

/** `metadata` gives the authenticator icons; without it they are null. */
export async function passkeySummary(
  row: CredentialRow,
  protection: CredentialIdProtection,
  metadata?: MetadataRepository,
): Promise<PasskeySummary> {
  const [summary] = await passkeySummaries([row], protection, metadata);
  return summary as PasskeySummary;
}

function summaryOf(row: CredentialRow, credentialId: string, icons: Map<string, string>): PasskeySummary {
  return {
    id: row.id,
    credentialId,
    name: row.name,
    aaguid: row.aaguid,
    authenticator: { name: authenticatorName(row.aaguid), icon: icons.get(aaguidKey(row.aaguid)) ?? null },
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

export async function passkeySummaries(
  rows: CredentialRow[],
  protection: CredentialIdProtection,
  metadata?: MetadataRepository,
): Promise<PasskeySummary[]> {
  // The icon read runs while the credential ids are decrypted: no extra wait.
  const [icons, credentialIds] = await Promise.all([iconsOf(rows, metadata), credentialIdsOf(rows, protection)]);
  return rows.map((row, i) => summaryOf(row, credentialIds[i] as string, icons));
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
