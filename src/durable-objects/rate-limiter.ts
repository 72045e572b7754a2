import { DurableObject } from "cloudflare:workers";

/** One budget a request counts against: a sliding log under `name`, at most `limit` per window. */
export type RateLimitBucket = { name: string; limit: number };

/** The answer to one request: let it through or not, and what to tell the client either way. */
export type RateLimitVerdict = {
  allowed: boolean;
  /** Which of the buckets the answer describes: the one that refused, or the one nearest its limit. */
  bucket: number;
  limit: number;
  /** Requests still allowed in that bucket's window after this one. */
  remaining: number;
  /** Seconds until the oldest counted request leaves the window, i.e. until a slot frees up. */
  resetSeconds: number;
};

/**
 * One instance per client network (`idFromName`: an IPv4 address, or an IPv6 /48 holding the
 * buckets of its /64s and of the /48 itself), holding a sliding log per bucket: one row per
 * request it let through, kept until the row's window ends. `hit` reads, decides and writes
 * every bucket of a request with the synchronous SQLite API before its first await, so
 * concurrent requests from one network cannot both take the last slot, and a request counts
 * in all its buckets or in none.
 *
 * Refused requests are not logged: storage per network stays bounded by the limits, and a
 * client that keeps hammering is let through at exactly the configured rate.
 */
export class RateLimiter extends DurableObject<Env> {
  #schemaReady = false;
  /**
   * When the pending cleanup alarm is due, so a hit need not ask storage each time: undefined
   * until read (a fresh instance, e.g. after eviction, or after an alarm ran), null when none.
   */
  #alarmAt: number | null | undefined;

  async hit(buckets: readonly RateLimitBucket[], windowSeconds: number): Promise<RateLimitVerdict> {
    this.#ensureSchema();
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    const expiresAt = now + windowSeconds * 1000;
    const secondsUntil = (at: number) => Math.max(1, Math.ceil((at - now) / 1000));
    const counted = buckets.map(({ name, limit }) => {
      sql.exec("DELETE FROM hits WHERE bucket = ? AND expires_at <= ?", name, now);
      const { count, oldest } = sql
        .exec<{ count: number; oldest: number | null }>(
          "SELECT COUNT(*) AS count, MIN(expires_at) AS oldest FROM hits WHERE bucket = ?",
          name,
        )
        .one();
      return { limit, count, oldest };
    });

    const full = counted.findIndex(({ count, limit }) => count >= limit);
    if (full >= 0) {
      const { limit, oldest } = counted[full] as (typeof counted)[number];
      return { allowed: false, bucket: full, limit, remaining: 0, resetSeconds: secondsUntil(oldest ?? expiresAt) };
    }
    for (const { name } of buckets) sql.exec("INSERT INTO hits (bucket, expires_at) VALUES (?, ?)", name, expiresAt);
    await this.#scheduleCleanup(expiresAt);
    let nearest = 0;
    counted.forEach(({ limit, count }, index) => {
      const least = counted[nearest] as (typeof counted)[number];
      if (limit - count < least.limit - least.count) nearest = index;
    });
    const { limit, count, oldest } = counted[nearest] as (typeof counted)[number];
    return {
      allowed: true,
      bucket: nearest,
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
