import type { CeremonyPorts } from "../ceremonies/ports";
import type { Config } from "../config/config";
import type { Metrics } from "../observability/analytics";
import type { Logger } from "../observability/logger";
import type { AccountSession } from "./bearer-session";

/** Hono's typed environment: bindings from `wrangler types`, per-request variables set by middleware. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    logger: Logger;
    metrics: Metrics;
    ports: CeremonyPorts;
    /** The caller's verified session and active account (self-service routes, after `signedIn`). */
    account: AccountSession;
  };
};
