import type { SignedInAccount } from "../accounts/session-account";
import type { Config } from "../config/config";
import type { ServerKeys } from "../crypto/server-keys";
import type { Metrics } from "../observability/analytics";
import type { Logger } from "../observability/logger";
import type { Services } from "../services";

/**
 * Hono's typed environment: bindings from `wrangler types`, per-request variables set by the
 * middleware every request passes (src/app.ts).
 */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    /** Key material from the secrets, imported once per isolate (src/crypto/server-keys.ts). */
    keys: ServerKeys;
    logger: Logger;
    metrics: Metrics;
    /** The request's services (src/services.ts, set by src/middleware/services.ts). */
    ports: Services;
    /**
     * The rate limiter's verdict on this request (src/middleware/rate-limit.ts), on the routes
     * it governs: resolves once admitted, throws RATE_LIMIT_EXCEEDED (or the limiter's fault)
     * otherwise. The first call asks the limiter; ceremonies call it alongside their first
     * storage call. Unset on the routes that are never limited.
     */
    admission: (() => Promise<void>) | undefined;
    /** Work the answer need not wait for, run with `waitUntil` once the response is ready. */
    defer: (what: string, task: () => Promise<unknown>) => void;
  };
};

/** Routes behind `signedIn` (src/http/bearer-session.ts): the caller's account is known. */
export type SessionVariables = AppEnv["Variables"] & {
  /** The caller's verified session, active account and its passkeys. */
  account: SignedInAccount;
};

export type SessionEnv = { Bindings: Env; Variables: SessionVariables };
