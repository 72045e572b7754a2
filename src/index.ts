import { app } from "./app";

export { ChallengeStore } from "./durable-objects/challenge-store";

export default app satisfies ExportedHandler<Env>;
