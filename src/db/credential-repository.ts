import { and, asc, eq, sql } from "drizzle-orm";
import { AppError } from "../errors";
import { type Database, uniqueViolationOn } from "./database";
import { type CredentialRow, credentials, type NewCredentialRow, type UserRow, users } from "./schema";

export type NewUser = Pick<UserRow, "id" | "username" | "displayName">;

export type CredentialWithOwner = { credential: CredentialRow; user: UserRow };

export type AssertionUpdate = {
  signCount: number;
  backupEligible: boolean;
  backupState: boolean;
  deviceType: CredentialRow["deviceType"];
  usedAt: Date;
};

export class CredentialRepository {
  constructor(private readonly db: Database) {}

  /** One read for the hot path of sign-in: the credential and its owner together. */
  async findByIdHash(credentialIdHash: string): Promise<CredentialWithOwner | undefined> {
    const row = await this.db
      .select({ credential: credentials, user: users })
      .from(credentials)
      .innerJoin(users, eq(users.id, credentials.userId))
      .where(eq(credentials.credentialIdHash, credentialIdHash))
      .get();
    return row ?? undefined;
  }

  async listForUser(userId: string, { activeOnly = false } = {}): Promise<CredentialRow[]> {
    const owner = eq(credentials.userId, userId);
    return this.db
      .select()
      .from(credentials)
      .where(activeOnly ? and(owner, eq(credentials.isActive, true)) : owner)
      .orderBy(asc(credentials.createdAt))
      .all();
  }

  /**
   * A new account and its first passkey are written in one batch (one transaction): the
   * account exists only if its passkey does. Races on the username or the credential id
   * end in the unique indexes and come back as 409s.
   */
  async createUserWithCredential(user: NewUser, credential: NewCredentialRow): Promise<void> {
    try {
      await this.db.batch([this.db.insert(users).values(user), this.db.insert(credentials).values(credential)]);
    } catch (error) {
      throw conflictOrRethrow(error);
    }
  }

  /**
   * Adds a passkey only while the owner is under the limit. The count and the insert are
   * one statement, so two concurrent additions cannot both slip under it.
   */
  async addCredential(credential: NewCredentialRow, maxPerUser: number): Promise<boolean> {
    const r = credential;
    try {
      // Drizzle has no INSERT ... SELECT ... WHERE for literal rows, so this one is plain SQL.
      const result = await this.db.run(sql`
        INSERT INTO credentials (id, user_id, credential_id_hash, credential_id_encrypted, public_key,
          algorithm, aaguid, sign_count, transports, device_type, backup_eligible, backup_state,
          user_verified, attestation_format, name)
        SELECT ${r.id}, ${r.userId}, ${r.credentialIdHash}, ${r.credentialIdEncrypted}, ${r.publicKey},
          ${r.algorithm}, ${r.aaguid}, ${r.signCount ?? 0}, ${JSON.stringify(r.transports ?? [])}, ${r.deviceType},
          ${r.backupEligible ? 1 : 0}, ${r.backupState ? 1 : 0}, ${r.userVerified ? 1 : 0},
          ${r.attestationFormat}, ${r.name}
        WHERE EXISTS (SELECT 1 FROM users WHERE id = ${r.userId} AND is_active = 1)
          AND (SELECT count(*) FROM credentials WHERE user_id = ${r.userId}) < ${maxPerUser}`);
      return result.meta.changes === 1;
    } catch (error) {
      throw conflictOrRethrow(error);
    }
  }

  /**
   * Records a successful assertion only if nobody else moved the counter since we read it
   * (compare-and-set), so two concurrent assertions cannot both pass.
   */
  async recordAssertion(credential: CredentialRow, update: AssertionUpdate): Promise<boolean> {
    const result = await this.db
      .update(credentials)
      .set({
        signCount: update.signCount,
        backupEligible: update.backupEligible,
        backupState: update.backupState,
        deviceType: update.deviceType,
        lastUsedAt: update.usedAt,
        updatedAt: update.usedAt,
      })
      .where(
        and(
          eq(credentials.id, credential.id),
          eq(credentials.signCount, credential.signCount),
          eq(credentials.isActive, true),
        ),
      )
      .run();
    return result.meta.changes === 1;
  }

  async flag(credentialRowId: string, flag: CredentialFlag, at: Date): Promise<void> {
    await this.db.update(credentials).set({ flag, flaggedAt: at }).where(eq(credentials.id, credentialRowId)).run();
  }
}

/** Marks a credential for its owner to see; the counter and flags stay as they were. */
export type CredentialFlag = NonNullable<CredentialRow["flag"]>;

function conflictOrRethrow(error: unknown): unknown {
  if (uniqueViolationOn(error, "users.username")) {
    return new AppError("USERNAME_TAKEN", "This username is already registered");
  }
  if (uniqueViolationOn(error, "credentials.credential_id_hash")) {
    return new AppError("CREDENTIAL_EXISTS", "This passkey is already registered");
  }
  return error;
}
