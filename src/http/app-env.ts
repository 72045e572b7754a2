import type { CeremonyPorts } from "../ceremonies/ports";
import type { Config } from "../config/config";
import type { Logger } from "../observability/logger";

/** Hono's typed environment: bindings from `wrangler types`, per-request variables set by middleware. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    logger: Logger;
    ports: CeremonyPorts;
  };
};
