import type { SignedInAccount } from "../accounts/session-account";
import type { CeremonyPorts } from "../ceremonies/ports";
import type { Config } from "../config/config";
import type { ServerKeys } from "../crypto/server-keys";
import type { Metrics } from "../observability/analytics";
import type { Logger } from "../observability/logger";

/** Hono's typed environment: bindings from `wrangler types`, per-request variables set by middleware. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    /** Key material from the secrets, imported once per isolate (src/crypto/server-keys.ts). */
    keys: ServerKeys;
    logger: Logger;
    metrics: Metrics;
    ports: CeremonyPorts;
    /**
     * The rate limiter's verdict on this request (src/middleware/rate-limit.ts): resolves once
     * admitted, throws RATE_LIMIT_EXCEEDED (or the limiter's fault) otherwise. The first call
     * asks the limiter; ceremonies call it alongside their first storage call.
     */
    admission: () => Promise<void>;
    /** Work the answer need not wait for, run with `waitUntil` once the response is ready. */
    defer: (what: string, task: () => Promise<unknown>) => void;
    /** The caller's verified session, active account and its passkeys (self-service routes, after `signedIn`). */
    account: SignedInAccount;
  };
};
