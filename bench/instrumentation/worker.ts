// The Worker `npm run bench` measures storage waits on (`wrangler dev bench/instrumentation/worker.ts`):
// our real entry (src/index.ts), every request counted over wrapped bindings and its round trips
// reported in `Server-Timing`. Only the bench runs this; src/ has no counting of its own.
import worker from "../../src/index";
import { countRoundTrips } from "./storage-round-trips";

export { ChallengeStore, RateLimiter } from "../../src/index";

export default {
  fetch: countRoundTrips(worker.fetch),
  scheduled: worker.scheduled,
} satisfies ExportedHandler<Env>;
