import { lte } from "drizzle-orm";
import type { Database } from "./database";
import { revokedSessions } from "./schema";

/** Sessions ended before their expiry. Whether one is revoked is read with its account (CredentialRepository.findSessionAccount). */
export class RevokedSessionRepository {
  constructor(private readonly db: Database) {}

  /** Revoking twice is not an error: the session is ended either way. */
  async revoke(sessionId: string, expiresAt: Date): Promise<void> {
    await this.db.insert(revokedSessions).values({ jti: sessionId, expiresAt }).onConflictDoNothing().run();
  }

  /** Forgets revocations of tokens that have expired anyway; returns how many. */
  async deleteExpired(now: Date): Promise<number> {
    const result = await this.db.delete(revokedSessions).where(lte(revokedSessions.expiresAt, now)).run();
    return result.meta.changes;
  }
}
