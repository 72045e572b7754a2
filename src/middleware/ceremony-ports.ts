import { createMiddleware } from "hono/factory";
import { CredentialRepository } from "../db/credential-repository";
import { openDatabase } from "../db/database";
import { MetadataRepository } from "../db/metadata-repository";
import { RevokedSessionRepository } from "../db/revoked-session-repository";
import { UserRepository } from "../db/user-repository";
import { challengePort } from "../durable-objects/challenge-store";
import type { AppEnv } from "../http/app-env";
import { securityEventLog } from "../observability/security-events";

/** Wires the storage, keys and log that ceremonies use; nothing here does I/O by itself. */
export const ceremonyPorts = createMiddleware<AppEnv>(async (c, next) => {
  const config = c.get("config");
  const keys = c.get("keys");
  const db = openDatabase(c.env.DB);
  c.set("ports", {
    config,
    challenges: challengePort(c.env.CHALLENGES),
    users: new UserRepository(db),
    credentials: new CredentialRepository(db),
    revokedSessions: new RevokedSessionRepository(db),
    metadata: new MetadataRepository(db),
    credentialIds: keys.credentialIds,
    sessions: keys.sessions,
    events: securityEventLog(c.get("logger"), c.get("metrics")),
    now: () => new Date(),
  });
  await next();
});
