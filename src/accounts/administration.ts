import type { CeremonyPorts } from "../ceremonies/ports";
import { normalizeUsername } from "../ceremonies/username";
import { fromBase64URL, toBase64URL } from "../crypto/encoding";
import type { UserWithPasskeyCount } from "../db/user-repository";
import { AppError } from "../errors";
import type { SecurityEvent } from "../observability/security-events";
import {
  type AccountSummary,
  accountSummary,
  type PasskeySummary,
  passkeySummaries,
  passkeySummary,
} from "./passkey-summary";

/**
 * Operator actions behind ADMIN_API_KEY (src/middleware/admin-auth.ts). Each one, reads
 * included, is a security event in the audit trail, with reason "admin_api".
 */
export type UserListing = { users: (AccountSummary & { passkeyCount: number })[]; nextCursor: string | null };

export type UserDetail = { user: AccountSummary; credentials: PasskeySummary[] };

const userNotFound = () => new AppError("USER_NOT_FOUND");
const credentialNotFound = () => new AppError("CREDENTIAL_NOT_FOUND");

function audit(ports: CeremonyPorts, event: Omit<SecurityEvent, "outcome" | "reason">): void {
  ports.events.record({ ...event, outcome: "success", reason: "admin_api" });
}

export async function listUsers(
  query: { limit: number; cursor?: string; prefix?: string },
  ports: CeremonyPorts,
): Promise<UserListing> {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const prefix = query.prefix === undefined ? undefined : normalizeUsername(query.prefix);
  // One more than asked for tells whether another page follows, without a count query.
  const rows = await ports.users.page({ limit: query.limit + 1, after, prefix });
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  audit(ports, { event: "admin_users_listed" });
  return {
    users: page.map(listed),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.username) : null,
  };
}

export async function getUser(userId: string, ports: CeremonyPorts): Promise<UserDetail> {
  const account = await ports.credentials.findAccountById(userId);
  if (!account) throw userNotFound();
  audit(ports, { event: "admin_user_viewed", userId });
  return {
    user: accountSummary(account.user),
    credentials: await passkeySummaries(account.credentials, ports.credentialIds, ports),
  };
}

/**
 * A disabled account cannot sign in, add passkeys, or use its session tokens with this server.
 * Tokens already issued stay valid for app backends that verify them offline until they expire
 * (SESSION_TTL_SECONDS).
 */
export async function setUserActive(userId: string, active: boolean, ports: CeremonyPorts): Promise<AccountSummary> {
  const user = await ports.users.setActive(userId, active, ports.now());
  if (!user) throw userNotFound();
  audit(ports, { event: active ? "admin_user_enabled" : "admin_user_disabled", userId });
  return accountSummary(user);
}

export async function deleteUser(
  userId: string,
  ports: CeremonyPorts,
): Promise<{ userId: string; deletedPasskeys: number }> {
  const result = await ports.users.deleteWithCredentials(userId);
  if (!result.deleted) throw userNotFound();
  audit(ports, { event: "admin_user_deleted", userId });
  return { userId, deletedPasskeys: result.passkeys };
}

/** A disabled passkey is refused at sign-in and left out of allowCredentials until enabled. */
export async function setCredentialActive(id: string, active: boolean, ports: CeremonyPorts): Promise<PasskeySummary> {
  const row = await ports.credentials.setActive(id, active, ports.now());
  if (!row) throw credentialNotFound();
  audit(ports, {
    event: active ? "admin_credential_enabled" : "admin_credential_disabled",
    userId: row.userId,
    credentialRowId: id,
  });
  return passkeySummary(row, ports.credentialIds, ports);
}

/** An operator may remove any passkey, the last one included: the owner learns it at sign-in. */
export async function removeCredential(id: string, ports: CeremonyPorts): Promise<{ id: string; userId: string }> {
  const row = await ports.credentials.remove(id);
  if (!row) throw credentialNotFound();
  audit(ports, { event: "admin_credential_removed", userId: row.userId, credentialRowId: id });
  return { id, userId: row.userId };
}

function listed(row: UserWithPasskeyCount): AccountSummary & { passkeyCount: number } {
  return { ...accountSummary(row), passkeyCount: row.passkeyCount };
}

/** Opaque to clients; it holds the last username of the page (the listing's keyset order). */
function encodeCursor(username: string): string {
  return toBase64URL(new Uint8Array(new TextEncoder().encode(JSON.stringify({ after: username }))));
}

function decodeCursor(cursor: string): string {
  try {
    const value: unknown = JSON.parse(
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64URL(cursor)),
    );
    if (typeof value === "object" && value !== null && "after" in value && typeof value.after === "string") {
      return value.after;
    }
  } catch {
    // Falls through to the same answer as a well-formed cursor of the wrong shape.
  }
  throw new AppError("VALIDATION_ERROR", "The cursor is not valid", {
    details: [{ path: "cursor", message: "not a cursor" }],
  });
}
