import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Background } from "../ceremonies/ports";
import { CredentialRepository } from "../db/credential-repository";
import { openDatabase, openReplicaSession } from "../db/database";
import { MetadataRepository } from "../db/metadata-repository";
import { RevokedSessionRepository } from "../db/revoked-session-repository";
import { UserRepository } from "../db/user-repository";
import { challengePort } from "../durable-objects/challenge-store";
import type { AppEnv } from "../http/app-env";
import { errorChain } from "../observability/error-chain";
import { securityEventLog } from "../observability/security-events";

// Outside the app's middleware chain (no limiter ran, no response to defer to).
const admitted = () => Promise.resolve();
const runNow = (_what: string, task: () => Promise<unknown>) => {
  task().catch(() => undefined);
};

/** Wires the storage, keys and log that ceremonies use; nothing here does I/O by itself. */
export const ceremonyPorts = createMiddleware<AppEnv>(async (c, next) => {
  const config = c.get("config");
  const keys = c.get("keys");
  const db = openDatabase(c.env.DB);
  const admission = c.get("admission") ?? admitted;
  const backgroundWork = background(c);
  c.set("ports", {
    config,
    challenges: challengePort(c.env.CHALLENGES, keys.challenges, admission, backgroundWork.report),
    users: new UserRepository(db),
    credentials: new CredentialRepository(db, () => openReplicaSession(c.env.DB)),
    revokedSessions: new RevokedSessionRepository(db),
    metadata: new MetadataRepository(db),
    credentialIds: keys.credentialIds,
    sessions: keys.sessions,
    events: securityEventLog(c.get("logger"), c.get("metrics")),
    background: backgroundWork,
    now: () => new Date(),
    admission,
    defer: c.get("defer") ?? runNow,
  });
  await next();
});

function background(c: Context<AppEnv>): Background {
  const report = (what: string, error: unknown, level: "warn" | "error" = "warn") =>
    c
      .get("logger")
      .log(level, { type: "background_fault", requestId: c.get("requestId"), what, error: errorChain(error) });
  return {
    report,
    async attempt(what, task) {
      try {
        await task();
      } catch {
        // A storage fault is often gone a moment later: one more try once the answer is out,
        // then the log says what was lost.
        c.executionCtx.waitUntil(
          Promise.resolve()
            .then(task)
            .catch((error: unknown) => report(what, error, "error")),
        );
      }
    },
  };
}
