import { app } from "./app";
import { scheduled } from "./jobs/scheduled";

export { ChallengeStore } from "./durable-objects/challenge-store";
export { RateLimiter } from "./durable-objects/rate-limiter";

export default {
  fetch: app.fetch,
  // Cron trigger (wrangler.toml): src/jobs/scheduled.ts.
  scheduled,
} satisfies ExportedHandler<Env>;
