import { parseConfig } from "../config/config";
import { openDatabase } from "../db/database";
import { RevokedSessionRepository } from "../db/revoked-session-repository";
import { jsonLogger } from "../observability/logger";

/**
 * The cron trigger's work: a revocation matters only until its token's `exp`, after which the
 * token is refused anyway, so the table holds at most one SESSION_TTL_SECONDS of sign-outs.
 */
export async function runRevokedSessionCleanup(env: Env): Promise<void> {
  const config = parseConfig(env as unknown as Record<string, unknown>);
  const removed = await new RevokedSessionRepository(openDatabase(env.DB)).deleteExpired(new Date());
  if (removed > 0) jsonLogger(config.logLevel, { type: "revoked_session_cleanup" }).log("info", { removed });
}
