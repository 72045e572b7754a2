import { app } from "./app";
import { runCredentialIdRekeying } from "./jobs/credential-id-rekeying";

export { ChallengeStore } from "./durable-objects/challenge-store";
export { RateLimiter } from "./durable-objects/rate-limiter";

export default {
  fetch: app.fetch,
  // Cron trigger (wrangler.toml): finishes credential id key rotations; idle otherwise.
  scheduled: (_controller, env, ctx) => ctx.waitUntil(runCredentialIdRekeying(env)),
} satisfies ExportedHandler<Env>;
