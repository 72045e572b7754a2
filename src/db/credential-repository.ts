import { and, asc, count, eq, gt, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { ProtectedCredentialId } from "../crypto/credential-id-protection";
import { AppError } from "../errors";
import { type Database, uniqueViolationOn } from "./database";
import { type CredentialRow, credentials, type NewCredentialRow, type UserRow, users } from "./schema";

export type NewUser = Pick<UserRow, "id" | "username" | "displayName"> & { usernameSkeleton: string };

export type CredentialWithOwner = { credential: CredentialRow; user: UserRow };

/** An account and its passkeys, oldest first. */
export type AccountWithCredentials = { user: UserRow; credentials: CredentialRow[] };

export type AssertionUpdate = {
  signCount: number;
  backupEligible: boolean;
  backupState: boolean;
  deviceType: CredentialRow["deviceType"];
  usedAt: Date;
  /** Set when the row's id was protected under older keys: re-sealed in the same statement. */
  protectedId?: ProtectedCredentialId;
};

/** What the re-key sweep reads of a row: enough to open it and to update it conditionally. */
export type ProtectedIdRow = Pick<CredentialRow, "id"> & ProtectedCredentialId;

/** Where a read may be served from: see openReplicaSession. */
export type ReadFrom = { replica?: boolean };

export class CredentialRepository {
  #replica: D1Database | undefined;

  constructor(
    private readonly db: Database,
    /** Opens a session on the nearest replica, only when a read asks for one. */
    private readonly openReplica: () => D1Database = () => db.$client,
  ) {}

  /** The hot path's queries, built once per database binding: see `preparedQueriesOf`. */
  private get prepared(): PreparedQueries {
    return preparedQueriesOf(this.db);
  }

  /** A prepared query as it runs where the read may be served from. */
  private from<Q extends PreparedQuery>(query: Q, { replica = false }: ReadFrom): Q {
    if (!replica) return query;
    this.#replica ??= this.openReplica();
    return onConnection(query, this.#replica);
  }

  /**
   * The credential and its owner, for the hot path of sign-in, found by any of several blind
   * indexes (during an index key rotation): one read. The earliest index in the list wins.
   */
  async findByAnyIdHash(credentialIdHashes: string[]): Promise<CredentialWithOwner | undefined> {
    const rows = await this.prepared
      .byAnyIdHash(credentialIdHashes.length)
      .all(Object.fromEntries(credentialIdHashes.map((hash, i) => [`hash${i}`, hash])));
    const rank = (row: CredentialWithOwner) => credentialIdHashes.indexOf(row.credential.credentialIdHash);
    return rows.sort((a, b) => rank(a) - rank(b))[0];
  }

  /**
   * The account with this username and its active passkeys, in one read whether or not the
   * name exists, so sign-in options cost the same for a real and an unknown name.
   */
  async findUserWithActiveCredentials(
    username: string,
    from: ReadFrom = {},
  ): Promise<AccountWithCredentials | undefined> {
    return accountOf(await this.from(this.prepared.activeAccountByUsername, from).all({ username }));
  }

  /**
   * The account with this username, or else the one whose name looks the same (the same
   * confusable skeleton), with all its passkeys (disabled ones too), in one read.
   */
  async findAccountByUsername(
    username: string,
    skeleton: string,
    from: ReadFrom = {},
  ): Promise<AccountWithCredentials | undefined> {
    return accountOf(await this.from(this.prepared.accountByUsername, from).all({ username, skeleton }));
  }

  /** The account with this id and all its passkeys (disabled ones too), in one read. */
  async findAccountById(userId: string): Promise<AccountWithCredentials | undefined> {
    return accountOf(await accountQuery(this.db, eq(users.id, userId), { activeOnly: false }).all());
  }

  /**
   * A session's account with all its passkeys, and whether the session was signed out, in one
   * read: a session is checked against both on every request at no extra round trip.
   */
  async findSessionAccount(
    userId: string,
    sessionId: string,
  ): Promise<{ account: AccountWithCredentials | undefined; revoked: boolean }> {
    const rows = await this.prepared.sessionAccount.all({ userId, sessionId });
    return { account: accountOf(rows), revoked: Number(rows[0]?.revoked ?? 0) === 1 };
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
   * Adds a passkey only while the owner is active and under the limit and, when `session` is
   * given, only while the session that started the ceremony is still good: its passkey still
   * active on this account, not signed out, and its expiry not passed. Every condition and the insert are one
   * statement, so nothing can change between the check and the write (two concurrent
   * additions cannot both slip under the limit; a passkey removed a moment before is honoured).
   */
  async addCredential(
    credential: NewCredentialRow,
    maxPerUser: number,
    /** The session that started the ceremony: its passkey, its expiry (ms), its token id. */
    session?: { passkeyId: string; expiresAt: number; sessionId: string },
  ): Promise<boolean> {
    const r = credential;
    // The database's clock (milliseconds since 1970) decides the expiry, in the same statement.
    const sessionStillGood = session
      ? sql`AND EXISTS (SELECT 1 FROM credentials AS started
            WHERE started.id = ${session.passkeyId} AND started.user_id = ${r.userId} AND started.is_active = 1)
          AND NOT EXISTS (SELECT 1 FROM revoked_sessions WHERE jti = ${session.sessionId})
          AND (julianday('now') - 2440587.5) * 86400000 < ${session.expiresAt}`
      : sql``;
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
          AND (SELECT count(*) FROM credentials WHERE user_id = ${r.userId}) < ${maxPerUser}
          ${sessionStillGood}`);
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
    const values = {
      id: credential.id,
      readSignCount: credential.signCount,
      signCount: update.signCount,
      backupEligible: update.backupEligible,
      backupState: update.backupState,
      deviceType: update.deviceType,
      usedAt: update.usedAt,
    };
    const result = update.protectedId
      ? await this.prepared.recordAssertionRekeyed.run({ ...values, ...update.protectedId })
      : await this.prepared.recordAssertion.run(values);
    return result.meta.changes === 1;
  }

  /**
   * Records when a passkey whose counter and flags did not change was used (and brings its
   * protected id up to the current keys if needed). Nothing depends on it at once, so it runs
   * after the answer (deferred); the re-key only applies if nobody re-keyed the row meanwhile.
   */
  async recordUse(credential: CredentialRow, usedAt: Date, protectedId?: ProtectedCredentialId): Promise<void> {
    const values = {
      id: credential.id,
      readIdHash: credential.credentialIdHash,
      readIdEncrypted: credential.credentialIdEncrypted,
      usedAt,
    };
    if (protectedId) await this.prepared.recordUseRekeyed.run({ ...values, ...protectedId });
    else await this.prepared.recordUse.run(values);
  }

  /**
   * Rows whose id is sealed under another key than `keyId`, in row id order after the
   * cursor: the re-key sweep's work list (a re-keyed row drops out of it).
   */
  async pageNotSealedUnder(keyId: string, afterId: string, limit: number): Promise<ProtectedIdRow[]> {
    return this.db
      .select({
        id: credentials.id,
        credentialIdHash: credentials.credentialIdHash,
        credentialIdEncrypted: credentials.credentialIdEncrypted,
      })
      .from(credentials)
      .where(and(notSealedUnder(keyId), gt(credentials.id, afterId)))
      .orderBy(asc(credentials.id))
      .limit(limit)
      .all();
  }

  async countNotSealedUnder(keyId: string): Promise<number> {
    const row = await this.db.select({ n: count() }).from(credentials).where(notSealedUnder(keyId)).get();
    return row?.n ?? 0;
  }

  /**
   * Swaps rows' protected ids for their re-keyed form, in one batch, each only if nobody
   * changed it since it was read (a sign-in may have re-keyed it meanwhile).
   * Returns how many rows were swapped.
   */
  async replaceProtectedIds(changes: { row: ProtectedIdRow; next: ProtectedCredentialId }[]): Promise<number> {
    const [first, ...rest] = changes.map(({ row, next }) =>
      this.db
        .update(credentials)
        .set(next)
        .where(
          and(
            eq(credentials.id, row.id),
            eq(credentials.credentialIdHash, row.credentialIdHash),
            eq(credentials.credentialIdEncrypted, row.credentialIdEncrypted),
          ),
        ),
    );
    if (!first) return 0;
    const results = await this.db.batch([first, ...rest]);
    return results.reduce((sum, result) => sum + result.meta.changes, 0);
  }

  /**
   * Marks the passkey for its owner to see. The first signal and its time are kept: a later
   * refused assertion must not overwrite the evidence of an earlier one.
   */
  async flag(credentialRowId: string, flag: CredentialFlag, at: Date): Promise<void> {
    await this.db
      .update(credentials)
      .set({ flag, flaggedAt: at })
      .where(and(eq(credentials.id, credentialRowId), isNull(credentials.flag)))
      .run();
  }

  /** The passkey with this row id only if it is this account's: another's is not found. */
  async findOwned(userId: string, id: string): Promise<CredentialRow | undefined> {
    return this.db
      .select()
      .from(credentials)
      .where(and(eq(credentials.id, id), eq(credentials.userId, userId)))
      .get();
  }

  async rename(userId: string, id: string, name: string, at: Date): Promise<CredentialRow | undefined> {
    return this.db
      .update(credentials)
      .set({ name, updatedAt: at })
      .where(and(eq(credentials.id, id), eq(credentials.userId, userId)))
      .returning()
      .get();
  }

  /**
   * Removes one of an account's passkeys. Unless `allowLast`, only while another active passkey
   * remains: checked in the same statement, so two concurrent removals cannot take the last two.
   */
  async removeOwned(userId: string, id: string, { allowLast }: { allowLast: boolean }) {
    const anotherActive = sql`EXISTS (SELECT 1 FROM credentials AS other
      WHERE other.user_id = ${userId} AND other.id != ${id} AND other.is_active = 1)`;
    const owned = and(eq(credentials.id, id), eq(credentials.userId, userId));
    return this.db
      .delete(credentials)
      .where(allowLast ? owned : and(owned, anotherActive))
      .returning()
      .get();
  }

  async remove(id: string): Promise<CredentialRow | undefined> {
    return this.db.delete(credentials).where(eq(credentials.id, id)).returning().get();
  }

  /** A disabled passkey is refused at sign-in (and left out of allowCredentials) until enabled. */
  async setActive(id: string, isActive: boolean, at: Date): Promise<CredentialRow | undefined> {
    return this.db.update(credentials).set({ isActive, updatedAt: at }).where(eq(credentials.id, id)).returning().get();
  }
}

/** An account's rows: the user, each of its passkeys (or none: a left join), oldest first. */
function accountQuery(
  db: Database,
  which: SQL,
  { activeOnly, revoked = sql<number>`0` }: { activeOnly: boolean; revoked?: SQL<number> },
) {
  const owned = eq(credentials.userId, users.id);
  return db
    .select({ user: users, credential: credentials, revoked })
    .from(users)
    .leftJoin(credentials, activeOnly ? and(owned, eq(credentials.isActive, true)) : owned)
    .where(which)
    .orderBy(asc(credentials.createdAt), asc(credentials.id));
}

const param = sql.placeholder;
/**
 * A placeholder as an update's column value. Drizzle encodes it as the column does (booleans
 * to 0/1, dates to ms) when the value is filled in; its types only admit literal values there.
 */
const columnParam = <T>(name: string) => param(name) as unknown as T;

/**
 * The queries of sign-in and of every signed-in request, prepared (Drizzle's `.prepare()` with
 * placeholders): their SQL is built once per database binding, which lives as long as the
 * isolate, instead of on every request (building was most of Drizzle's CPU per sign-in, per
 * `npm run bench` profiles). Each runs exactly the SQL the query builder would write.
 */
function prepareQueries(db: Database) {
  const assertionSet = {
    signCount: columnParam<number>("signCount"),
    backupEligible: columnParam<boolean>("backupEligible"),
    backupState: columnParam<boolean>("backupState"),
    deviceType: columnParam<CredentialRow["deviceType"]>("deviceType"),
    lastUsedAt: columnParam<Date>("usedAt"),
    updatedAt: columnParam<Date>("usedAt"),
  };
  // Compare-and-set: only if nobody moved the counter since it was read.
  const unchangedSince = and(
    eq(credentials.id, param("id")),
    eq(credentials.signCount, param("readSignCount")),
    eq(credentials.isActive, true),
  );
  // Only if nobody re-keyed the row since it was read.
  const sameProtectedId = and(
    eq(credentials.id, param("id")),
    eq(credentials.credentialIdHash, param("readIdHash")),
    eq(credentials.credentialIdEncrypted, param("readIdEncrypted")),
  );
  const rekeyed = {
    credentialIdHash: columnParam<string>("credentialIdHash"),
    credentialIdEncrypted: columnParam<string>("credentialIdEncrypted"),
  };
  const byIdHashCount = new Map<number, ReturnType<typeof prepareByAnyIdHash>>();
  return {
    activeAccountByUsername: accountQuery(db, eq(users.username, param("username")), { activeOnly: true }).prepare(),
    // Spelled out: one account, the exact name first (a row from before skeletons has none).
    accountByUsername: accountQuery(
      db,
      sql`${users.id} = (SELECT id FROM users WHERE username = ${param("username")} OR username_skeleton = ${param("skeleton")}
      ORDER BY username = ${param("username")} DESC LIMIT 1)`,
      { activeOnly: false },
    ).prepare(),
    sessionAccount: accountQuery(db, eq(users.id, param("userId")), {
      activeOnly: false,
      // Spelled out: a scalar subquery on the primary key of revoked_sessions, on every row.
      revoked: sql<number>`EXISTS (SELECT 1 FROM revoked_sessions WHERE jti = ${param("sessionId")})`,
    }).prepare(),
    /** One statement per number of indexes looked up (one, or a few during a key rotation). */
    byAnyIdHash(count: number) {
      let query = byIdHashCount.get(count);
      if (!query) {
        query = prepareByAnyIdHash(db, count);
        byIdHashCount.set(count, query);
      }
      return query;
    },
    recordAssertion: db.update(credentials).set(assertionSet).where(unchangedSince).prepare(),
    recordAssertionRekeyed: db
      .update(credentials)
      .set({ ...assertionSet, ...rekeyed })
      .where(unchangedSince)
      .prepare(),
    recordUse: db
      .update(credentials)
      .set({ lastUsedAt: columnParam<Date>("usedAt") })
      .where(sameProtectedId)
      .prepare(),
    recordUseRekeyed: db
      .update(credentials)
      .set({ lastUsedAt: columnParam<Date>("usedAt"), ...rekeyed })
      .where(sameProtectedId)
      .prepare(),
  };
}

function prepareByAnyIdHash(db: Database, count: number) {
  return db
    .select({ credential: credentials, user: users })
    .from(credentials)
    .innerJoin(users, eq(users.id, credentials.userId))
    .where(
      inArray(
        credentials.credentialIdHash,
        Array.from({ length: count }, (_, i) => param(`hash${i}`)),
      ),
    )
    .prepare();
}

type PreparedQueries = ReturnType<typeof prepareQueries>;
type PreparedQuery = { getQuery(): { sql: string } };

const preparedQueries = new WeakMap<Database, PreparedQueries>();

function preparedQueriesOf(db: Database): PreparedQueries {
  let prepared = preparedQueries.get(db);
  if (!prepared) {
    prepared = prepareQueries(db);
    preparedQueries.set(db, prepared);
  }
  return prepared;
}

/**
 * A prepared query run on another D1 connection (a Sessions API session, which lives for one
 * request): the same SQL, row mapping and errors, only the D1 statement is the session's.
 * Drizzle ties a prepared query to the connection it was prepared on, through its `stmt`.
 */
function onConnection<Q extends PreparedQuery>(query: Q, connection: D1Database): Q {
  return Object.create(query, { stmt: { value: connection.prepare(query.getQuery().sql) } }) as Q;
}

/** `keyId:` is the ciphertext's prefix; compared as a substring so `_` and `-` in ids stay literal. */
const notSealedUnder = (keyId: string) =>
  sql`substr(${credentials.credentialIdEncrypted}, 1, ${keyId.length + 1}) != ${`${keyId}:`}`;

/** Marks a credential for its owner to see; the counter and flags stay as they were. */
export type CredentialFlag = NonNullable<CredentialRow["flag"]>;

function conflictOrRethrow(error: unknown): unknown {
  // users.username, or users.username_skeleton: a name that looks the same is taken.
  if (uniqueViolationOn(error, "users.username")) {
    return new AppError("USERNAME_TAKEN");
  }
  if (uniqueViolationOn(error, "credentials.credential_id_hash")) {
    return new AppError("CREDENTIAL_EXISTS");
  }
  return error;
}

function accountOf(rows: { user: UserRow; credential: CredentialRow | null }[]): AccountWithCredentials | undefined {
  const user = rows[0]?.user;
  if (!user) return undefined;
  return { user, credentials: rows.flatMap((row) => (row.credential ? [row.credential] : [])) };
}
