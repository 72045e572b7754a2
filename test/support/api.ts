import { testWorker } from "./test-worker";

// The suite's default worker (test/support/test-worker.ts): no overrides, no client address.
// Most tests drive the app through these.
export const { api, registrationOptions, authenticationOptions, signUp, assertion, signIn } = testWorker();

export {
  type ApiResponse,
  bearer,
  freshIPv4,
  freshIPv6Prefix,
  newKey,
  ORIGIN,
  type SignedUp,
  uniqueUsername,
} from "./test-worker";
