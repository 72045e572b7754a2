import { app } from "./app";
import { runCredentialIdRekeying } from "./jobs/credential-id-rekeying";
import { runRevokedSessionCleanup } from "./jobs/revoked-session-cleanup";
import { runUsernameSkeletonBackfill } from "./jobs/username-skeleton-backfill";
import { runMetadataRefresh } from "./metadata/scheduled-refresh";

export { ChallengeStore } from "./durable-objects/challenge-store";
export { RateLimiter } from "./durable-objects/rate-limiter";

export default {
  fetch: app.fetch,
  // Cron trigger (wrangler.toml): finishes credential id key rotations and refreshes the FIDO
  // MDS BLOB from MDS_URL when it is due; forgets sign-outs of tokens that have expired; gives
  // accounts from before username skeletons theirs.
  scheduled: (_controller, env, ctx) => {
    ctx.waitUntil(runCredentialIdRekeying(env));
    ctx.waitUntil(runMetadataRefresh(env));
    ctx.waitUntil(runRevokedSessionCleanup(env));
    ctx.waitUntil(runUsernameSkeletonBackfill(env));
  },
} satisfies ExportedHandler<Env>;
