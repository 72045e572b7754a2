import { and, asc, eq, gt, gte, lt, sql } from "drizzle-orm";
import type { Database } from "./database";
import { credentials, type UserRow, users } from "./schema";

export type UserWithPasskeyCount = UserRow & { passkeyCount: number };

export class UserRepository {
  constructor(private readonly db: Database) {}

  async findById(id: string): Promise<UserRow | undefined> {
    return this.db.select().from(users).where(eq(users.id, id)).get();
  }

  /**
   * Accounts in username order (the unique index: a stable order that needs no sort), after
   * `after`, optionally only names starting with `prefix`, each with its number of passkeys.
   */
  async page(options: { limit: number; after?: string; prefix?: string }): Promise<UserWithPasskeyCount[]> {
    const { limit, after, prefix } = options;
    const conditions = [];
    if (after !== undefined) conditions.push(gt(users.username, after));
    if (prefix) {
      // A range on the index rather than LIKE, which has wildcards to escape and is case-insensitive.
      conditions.push(gte(users.username, prefix));
      const end = prefixEnd(prefix);
      if (end !== null) conditions.push(lt(users.username, end));
    }
    const rows = await this.db
      .select({
        user: users,
        // Spelled out: Drizzle leaves columns unqualified here, and the subquery must name the outer row.
        passkeyCount: sql<number>`(SELECT count(*) FROM credentials WHERE credentials.user_id = users.id)`,
      })
      .from(users)
      .where(and(...conditions))
      .orderBy(asc(users.username))
      .limit(limit)
      .all();
    return rows.map(({ user, passkeyCount }) => ({ ...user, passkeyCount: Number(passkeyCount) }));
  }

  /** A disabled account cannot sign in, add passkeys or use its session tokens with this server. */
  async setActive(id: string, isActive: boolean, at: Date): Promise<UserRow | undefined> {
    return this.db.update(users).set({ isActive, updatedAt: at }).where(eq(users.id, id)).returning().get();
  }

  /**
   * Deletes the account and all its passkeys in one D1 batch (one transaction): both or neither.
   * The passkeys are deleted explicitly rather than left to the foreign key's cascade, so the
   * outcome does not depend on foreign key enforcement being on.
   */
  async deleteWithCredentials(id: string): Promise<{ deleted: boolean; passkeys: number }> {
    const [removedPasskeys, removedUsers] = await this.db.batch([
      this.db.delete(credentials).where(eq(credentials.userId, id)),
      this.db.delete(users).where(eq(users.id, id)).returning({ id: users.id }),
    ]);
    // Nothing to delete is not a failure of the batch: report what happened.
    return { deleted: removedUsers.length === 1, passkeys: removedPasskeys.meta.changes };
  }
}

/**
 * The least string greater than every string that starts with `prefix`, in SQLite's binary
 * (UTF-8 byte) order, which is code point order: the last code point plus one. Null when there
 * is none (a prefix of only U+10FFFF).
 */
export function prefixEnd(prefix: string): string | null {
  const codePoints = [...prefix].map((char) => char.codePointAt(0) ?? 0);
  while (codePoints.length > 0) {
    const last = (codePoints.pop() ?? 0) + 1;
    if (last <= 0x10ffff) {
      // Surrogates are not characters: the next one after U+D7FF is U+E000.
      codePoints.push(last >= 0xd800 && last <= 0xdfff ? 0xe000 : last);
      return String.fromCodePoint(...codePoints);
    }
  }
  return null;
}
