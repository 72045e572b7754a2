import { parseConfig } from "../config/config";
import { openDatabase } from "../db/database";
import { MetadataRepository } from "../db/metadata-repository";
import { analyticsDataset, analyticsMetrics } from "../observability/analytics";
import { jsonLogger } from "../observability/logger";
import { securityEventLog } from "../observability/security-events";
import { type RefreshOutcome, refreshMetadataFromUrl } from "./metadata-sources";

/** The cron trigger's metadata work (wrangler.toml `[triggers]`): idle unless MDS_URL is set. */
export async function runMetadataRefresh(env: Env): Promise<RefreshOutcome> {
  const config = parseConfig(env as unknown as Record<string, unknown>);
  if (!config.attestationTrust.mdsUrl) return "not_configured";
  const logger = jsonLogger(config.logLevel, { job: "metadata_refresh" });
  return refreshMetadataFromUrl({
    config,
    metadata: new MetadataRepository(openDatabase(env.DB)),
    events: securityEventLog(logger, analyticsMetrics(analyticsDataset(env), logger)),
    logger,
    now: () => new Date(),
  });
}
