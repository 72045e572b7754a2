import { and, asc, eq, inArray, isNull } from "drizzle-orm";
import { normalizeUsername, usernameSkeleton } from "../ceremonies/username";
import type { Database } from "../db/database";
import { users } from "../db/schema";

/** What the skeleton column holds for an older account that looks like one made before it. */
export const lookAlikeMarker = (userId: string) => `!look-alike:${userId}`;

export type SkeletonBackfillReport = { filled: number; renamed: number; lookAlikes: string[] };

// D1 binds at most 100 parameters per statement: a page's skeletons are looked up in one.
const PAGE_SIZE = 90;

/**
 * Accounts made before usernames had skeletons (migrations/0006) get theirs, oldest first, a
 * page at a time: the name re-normalized under today's rules (NFKC), and its skeleton. When
 * the skeleton is already taken, by an older account or one made since the migration, the
 * account keeps its name (it can still sign in) and is marked as a look-alike instead, which
 * keeps it out of the unique index; the ids are logged for an operator to look at.
 */
export async function backfillUsernameSkeletons(db: Database, { maxPages = 20 } = {}): Promise<SkeletonBackfillReport> {
  const report: SkeletonBackfillReport = { filled: 0, renamed: 0, lookAlikes: [] };
  for (let page = 0; page < maxPages; page++) {
    const rows = await db
      .select({ id: users.id, username: users.username })
      .from(users)
      .where(isNull(users.usernameSkeleton))
      .orderBy(asc(users.createdAt), asc(users.id))
      .limit(PAGE_SIZE)
      .all();
    if (rows.length === 0) break;
    const planned = rows.map((row) => {
      const username = normalizeUsername(row.username);
      return { ...row, normalized: username, skeleton: usernameSkeleton(username) };
    });
    const taken = new Set(
      (
        await db
          .select({ skeleton: users.usernameSkeleton })
          .from(users)
          .where(
            inArray(
              users.usernameSkeleton,
              planned.map((row) => row.skeleton),
            ),
          )
          .all()
      ).map((row) => row.skeleton),
    );
    const lookAlike = (id: string): Partial<typeof users.$inferInsert> => ({ usernameSkeleton: lookAlikeMarker(id) });
    const updates = planned.map((row) => {
      if (taken.has(row.skeleton)) return { row, set: lookAlike(row.id) };
      taken.add(row.skeleton);
      const set: Partial<typeof users.$inferInsert> = { username: row.normalized, usernameSkeleton: row.skeleton };
      return { row, set };
    });
    // Only rows still without a skeleton: a row changed meanwhile is left as it is.
    const update = (id: string, set: Partial<typeof users.$inferInsert>) =>
      db
        .update(users)
        .set(set)
        .where(and(eq(users.id, id), isNull(users.usernameSkeleton)));
    const count = ({ row, set }: (typeof updates)[number]) => {
      if (set.username === undefined) report.lookAlikes.push(row.id);
      else {
        report.filled++;
        if (row.normalized !== row.username) report.renamed++;
      }
    };
    try {
      const [first, ...rest] = updates.map(({ row, set }) => update(row.id, set));
      if (first) await db.batch([first, ...rest]);
      updates.forEach(count);
    } catch {
      // The batch did nothing: a sign-up took one of these skeletons meanwhile, or a re-normalized
      // name is the stored name of an account further on. Row by row, then, each asking for its
      // own name and skeleton again; the unique indexes decide, and a row they refuse is a
      // look-alike.
      for (const { row } of updates) {
        const own = { row, set: { username: row.normalized, usernameSkeleton: row.skeleton } };
        try {
          await update(row.id, own.set).run();
          count(own);
        } catch {
          await update(row.id, lookAlike(row.id)).run();
          count({ row, set: lookAlike(row.id) });
        }
      }
    }
  }
  return report;
}
