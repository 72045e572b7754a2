import { loadServerKeys } from "../crypto/server-keys";
import { refreshMetadataFromUrl } from "../metadata/metadata-sources";
import { configOf } from "../middleware/configuration";
import { analyticsDataset, analyticsMetrics } from "../observability/analytics";
import { jsonLogger } from "../observability/logger";
import { createServices, type Services } from "../services";
import { rekeyCredentialIds } from "./credential-id-rekeying";
import { backfillUsernameSkeletons } from "./username-skeleton-backfill";

/**
 * The cron trigger's work (wrangler.toml `[triggers]`), each job on the same services a request
 * uses (src/services.ts), each with its own log context. All are cheap when there is nothing
 * to do: outside a key rotation, without MDS_URL, with no expired sign-out and no account left
 * without a username skeleton.
 */
const jobs = {
  /**
   * While a credential id key rotation is configured (more than one key of either kind),
   * re-key a bounded batch and log how many rows are left (src/jobs/credential-id-rekeying.ts).
   * Outside a rotation it does not touch the database at all.
   */
  credentialIdRekeying: {
    log: { type: "credential_id_rekey" },
    async run({ credentialIds, credentials, logger }: Services) {
      const keys = credentialIds.keyCounts;
      if (keys.sealing === 1 && keys.index === 1) return;
      if (keys.sealing === 1) {
        // Rows indexed under the previous key cannot be found by the sweep without a new
        // encryption key to tell them apart; sign-ins still re-index their own rows.
        logger.log("warn", { outcome: "skipped", reason: "index_key_rotation_without_new_encryption_key" });
        return;
      }
      const report = await rekeyCredentialIds(credentials, credentialIds);
      logger.log(report.unreadable > 0 ? "warn" : "info", {
        outcome: report.remaining === 0 ? "complete" : "in_progress",
        currentKeyId: credentialIds.currentKeyId,
        ...report,
      });
    },
  },
  /** Refreshes the FIDO MDS BLOB from MDS_URL when it is due; idle unless MDS_URL is set. */
  metadataRefresh: {
    log: { job: "metadata_refresh" },
    async run(services: Services) {
      if (!services.config.attestationTrust.mdsUrl) return;
      await refreshMetadataFromUrl(services);
    },
  },
  /**
   * A revocation matters only until its token's `exp`, after which the token is refused
   * anyway, so the table holds at most one SESSION_TTL_SECONDS of sign-outs.
   */
  revokedSessionCleanup: {
    log: { type: "revoked_session_cleanup" },
    async run({ revokedSessions, logger, now }: Services) {
      const removed = await revokedSessions.deleteExpired(now());
      if (removed > 0) logger.log("info", { removed });
    },
  },
  /** Gives accounts from before username skeletons theirs; idle (one read) once every account has one. */
  usernameSkeletonBackfill: {
    log: { type: "username_skeleton_backfill" },
    async run({ db, logger }: Services) {
      const report = await backfillUsernameSkeletons(db);
      if (report.filled === 0 && report.lookAlikes.length === 0) return;
      logger.log(report.lookAlikes.length > 0 ? "warn" : "info", report);
    },
  },
} satisfies Record<string, { log: Record<string, unknown>; run: (services: Services) => Promise<void> }>;

export type ScheduledJob = keyof typeof jobs;

/** Runs one job on its own services: a fault in one (a bad configuration included) leaves the others running. */
export async function runScheduledJob(job: ScheduledJob, env: Env, ctx: ExecutionContext): Promise<void> {
  const config = configOf(env);
  const logger = jsonLogger(config.logLevel, jobs[job].log);
  const services = createServices(env, ctx, {
    config,
    keys: await loadServerKeys(config),
    logger,
    metrics: analyticsMetrics(analyticsDataset(env), logger),
  });
  await jobs[job].run(services);
}

/** The Worker's `scheduled` handler: every job, each in its own waitUntil. */
export const scheduled: ExportedHandlerScheduledHandler<Env> = (_controller, env, ctx) => {
  for (const job of Object.keys(jobs) as ScheduledJob[]) ctx.waitUntil(runScheduledJob(job, env, ctx));
};
