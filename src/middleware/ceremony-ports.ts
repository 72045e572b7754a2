import { createMiddleware } from "hono/factory";
import { CredentialRepository } from "../db/credential-repository";
import { openDatabase, openReplicaDatabase } from "../db/database";
import { MetadataRepository } from "../db/metadata-repository";
import { UserRepository } from "../db/user-repository";
import { challengePort } from "../durable-objects/challenge-store";
import type { AppEnv } from "../http/app-env";
import { securityEventLog } from "../observability/security-events";

// Outside the app's middleware chain (no limiter ran, no response to defer to).
const admitted = () => Promise.resolve();
const runNow = (task: () => Promise<unknown>) => {
  task().catch(() => undefined);
};

/** Wires the storage, keys and log that ceremonies use; nothing here does I/O by itself. */
export const ceremonyPorts = createMiddleware<AppEnv>(async (c, next) => {
  const config = c.get("config");
  const keys = c.get("keys");
  const db = openDatabase(c.env.DB);
  const admission = c.get("admission") ?? admitted;
  c.set("ports", {
    config,
    challenges: challengePort(c.env.CHALLENGES, keys.challenges, admission),
    users: new UserRepository(db),
    credentials: new CredentialRepository(db, () => openReplicaDatabase(c.env.DB)),
    metadata: new MetadataRepository(db),
    credentialIds: keys.credentialIds,
    sessions: keys.sessions,
    events: securityEventLog(c.get("logger"), c.get("metrics")),
    now: () => new Date(),
    admission,
    defer: c.get("defer") ?? runNow,
  });
  await next();
});
