import type { Background, CeremonyPorts } from "./ceremonies/ports";
import type { Config } from "./config/config";
import type { ServerKeys } from "./crypto/server-keys";
import { CredentialRepository } from "./db/credential-repository";
import { type Database, openDatabase, openReplicaSession } from "./db/database";
import { MetadataRepository } from "./db/metadata-repository";
import { RevokedSessionRepository } from "./db/revoked-session-repository";
import { UserRepository } from "./db/user-repository";
import { challengePort } from "./durable-objects/challenge-store";
import type { Metrics } from "./observability/analytics";
import { errorChain } from "./observability/error-chain";
import type { Logger } from "./observability/logger";
import { securityEventLog } from "./observability/security-events";

/** Everything the work of a request or a cron job uses: the ceremonies' ports, its log and the database. */
export type Services = CeremonyPorts & { logger: Logger; db: Database };

/** What differs between a request and a cron run: its configuration, keys, log and the limiter's verdict. */
export type ServiceScope = {
  config: Config;
  keys: ServerKeys;
  logger: Logger;
  metrics: Metrics;
  /** Names a background fault's request in the log (none for a cron run). */
  requestId?: string;
  /** The rate limiter's verdict (src/middleware/rate-limit.ts); a cron run is always admitted. */
  admission?: () => Promise<void>;
  /** Work the answer need not wait for; without a response to wait for, it runs at once. */
  defer?: (what: string, task: () => Promise<unknown>) => void;
};

const admitted = () => Promise.resolve();
const runNow = (_what: string, task: () => Promise<unknown>) => {
  task().catch(() => undefined);
};

/**
 * The one place the storage, keys and log are wired, for `fetch` (src/middleware/services.ts)
 * and for the cron jobs (src/jobs/scheduled.ts). Nothing here does I/O by itself.
 */
export function createServices(
  env: Env,
  ctx: Pick<ExecutionContext, "waitUntil">,
  { config, keys, logger, metrics, requestId, admission = admitted, defer = runNow }: ServiceScope,
): Services {
  const db = openDatabase(env.DB);
  const backgroundWork = background(ctx, logger, requestId);
  return {
    config,
    challenges: challengePort(env.CHALLENGES, keys.challenges, admission, backgroundWork.report),
    users: new UserRepository(db),
    credentials: new CredentialRepository(db, () => openReplicaSession(env.DB)),
    revokedSessions: new RevokedSessionRepository(db),
    metadata: new MetadataRepository(db),
    credentialIds: keys.credentialIds,
    sessions: keys.sessions,
    events: securityEventLog(logger, metrics),
    background: backgroundWork,
    now: () => new Date(),
    admission,
    defer,
    logger,
    db,
  };
}

function background(ctx: Pick<ExecutionContext, "waitUntil">, logger: Logger, requestId?: string): Background {
  const report = (what: string, error: unknown, level: "warn" | "error" = "warn") =>
    logger.log(level, { type: "background_fault", requestId, what, error: errorChain(error) });
  return {
    report,
    async attempt(what, task) {
      try {
        await task();
      } catch {
        // A storage fault is often gone a moment later: one more try once the answer is out,
        // then the log says what was lost.
        ctx.waitUntil(
          Promise.resolve()
            .then(task)
            .catch((error: unknown) => report(what, error, "error")),
        );
      }
    },
  };
}
