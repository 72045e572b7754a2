import { credentialIdsOf } from "../ceremonies/credential-descriptors";
import type { CeremonyPorts } from "../ceremonies/ports";
import type { CredentialIdProtection } from "../crypto/credential-id-protection";
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

/** Where icons come from (FIDO metadata in D1), and where a failed icon read is reported. */
export type IconSource = Pick<CeremonyPorts, "metadata" | "background">;

/**
 * Icons by AAGUID: one D1 read, and none at all when every AAGUID is zero (no metadata has
 * those). Icons only decorate an answer, often one given after a write has committed (a
 * rename, a removal): a failed read leaves them null rather than failing the answer.
 */
async function iconsOf(rows: CredentialRow[], source: IconSource | undefined): Promise<Map<string, string>> {
  const keys = [...new Set(rows.filter((row) => row.aaguid !== ZERO_AAGUID).map((row) => aaguidKey(row.aaguid)))];
  if (!source || keys.length === 0) return new Map();
  try {
    return await source.metadata.iconsFor(keys);
  } catch (error) {
    source.background.report("authenticator_icons", error);
    return new Map();
  }
}

/** `icons` gives the authenticator icons; without it they are null. */
export async function passkeySummary(
  row: CredentialRow,
  protection: CredentialIdProtection,
  icons?: IconSource,
): Promise<PasskeySummary> {
  const [summary] = await passkeySummaries([row], protection, icons);
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
  iconSource?: IconSource,
): Promise<PasskeySummary[]> {
  // The icon read runs while the credential ids are decrypted: no extra wait.
  const [icons, credentialIds] = await Promise.all([iconsOf(rows, iconSource), credentialIdsOf(rows, protection)]);
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
