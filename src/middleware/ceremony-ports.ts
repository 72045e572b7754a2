import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Background } from "../ceremonies/ports";
import { CredentialRepository } from "../db/credential-repository";
import { openDatabase } from "../db/database";
import { MetadataRepository } from "../db/metadata-repository";
import { UserRepository } from "../db/user-repository";
import { challengePort } from "../durable-objects/challenge-store";
import type { AppEnv } from "../http/app-env";
import { errorChain } from "../observability/error-chain";
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
    metadata: new MetadataRepository(db),
    credentialIds: keys.credentialIds,
    sessions: keys.sessions,
    events: securityEventLog(c.get("logger"), c.get("metrics")),
    background: background(c),
    now: () => new Date(),
  });
  await next();
});

function background(c: Context<AppEnv>): Background {
  const report = (what: string, error: unknown, level: "warn" | "error" = "warn") =>
    c
      .get("logger")
      .log(level, { type: "background_fault", requestId: c.get("requestId"), what, error: errorChain(error) });
  // A storage fault is often gone a moment later: one more try, then the log says what was lost.
  const later = (what: string, task: () => Promise<unknown>, tries: number) => {
    let done = Promise.resolve().then(task);
    for (let i = 1; i < tries; i++) done = done.catch(task);
    c.executionCtx.waitUntil(done.catch((error: unknown) => report(what, error, "error")));
  };
  return {
    report,
    defer: (what, task) => later(what, task, 2),
    async attempt(what, task) {
      try {
        await task();
      } catch {
        later(what, task, 1);
      }
    },
  };
}
