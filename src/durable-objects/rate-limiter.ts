import { DurableObject } from "cloudflare:workers";

/** The answer to one request: let it through or not, and what to tell the client either way. */
export type RateLimitVerdict = {
  allowed: boolean;
  limit: number;
  /** Requests still allowed in the window after this one. */
  remaining: number;
  /** Seconds until the oldest counted request leaves the window, i.e. until a slot frees up. */
  resetSeconds: number;
};

/**
 * One instance per client address (`idFromName(clientKey)`), holding a sliding log per
 * route group: one row per request it let through, kept until the row's window ends.
 * `hit` reads, decides and writes with the synchronous SQLite API before its first await,
 * so concurrent requests from one address cannot both take the last slot.
 *
 * Refused requests are not logged: storage per address stays bounded by the limit, and a
 * client that keeps hammering is let through at exactly the configured rate.
 */
export class RateLimiter extends DurableObject<Env> {
  #schemaReady = false;
  /**
   * When the pending cleanup alarm is due, so a hit need not ask storage each time: undefined
   * until read (a fresh instance, e.g. after eviction, or after an alarm ran), null when none.
   */
  #alarmAt: number | null | undefined;

  async hit(group: string, limit: number, windowSeconds: number): Promise<RateLimitVerdict> {
    this.#ensureSchema();
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    sql.exec("DELETE FROM hits WHERE bucket = ? AND expires_at <= ?", group, now);
    const { count, oldest } = sql
      .exec<{ count: number; oldest: number | null }>(
        "SELECT COUNT(*) AS count, MIN(expires_at) AS oldest FROM hits WHERE bucket = ?",
        group,
      )
      .one();
    const secondsUntil = (at: number) => Math.max(1, Math.ceil((at - now) / 1000));

    if (count >= limit) {
      return { allowed: false, limit, remaining: 0, resetSeconds: secondsUntil(oldest ?? now + windowSeconds * 1000) };
    }
    const expiresAt = now + windowSeconds * 1000;
    sql.exec("INSERT INTO hits (bucket, expires_at) VALUES (?, ?)", group, expiresAt);
    await this.#scheduleCleanup(expiresAt);
    return {
      allowed: true,
      limit,
      remaining: limit - count - 1,
      resetSeconds: secondsUntil(oldest ?? expiresAt),
    };
  }

  /** Deletes what has expired; an address that went quiet ends up holding no storage at all. */
  override async alarm(): Promise<void> {
    // Unknown until this handler is done (if it fails, the runtime retries the alarm).
    this.#alarmAt = undefined;
    this.#ensureSchema();
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM hits WHERE expires_at <= ?", Date.now());
    const { latest } = sql.exec<{ latest: number | null }>("SELECT MAX(expires_at) AS latest FROM hits").one();
    if (latest === null) {
      await this.ctx.storage.deleteAll();
      this.#schemaReady = false;
      this.#alarmAt = null;
    } else {
      await this.ctx.storage.setAlarm(latest);
      this.#alarmAt = latest;
    }
  }

  async #scheduleCleanup(at: number): Promise<void> {
    // One pending alarm is enough: when it runs it reschedules itself for what is left.
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (this.#alarmAt === null) {
      await this.ctx.storage.setAlarm(at);
      this.#alarmAt = at;
    }
  }

  #ensureSchema(): void {
    if (this.#schemaReady) return;
    this.ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS hits (bucket TEXT NOT NULL, expires_at INTEGER NOT NULL);" +
        "CREATE INDEX IF NOT EXISTS hits_by_bucket ON hits (bucket, expires_at);",
    );
    this.#schemaReady = true;
  }
}

export type RateLimiterNamespace = DurableObjectNamespace<RateLimiter>;
