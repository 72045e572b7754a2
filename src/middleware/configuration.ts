import { createMiddleware } from "hono/factory";
import { type Config, parseConfig } from "../config/config";
import { loadServerKeys, type ServerKeys } from "../crypto/server-keys";
import type { AppEnv } from "../http/app-env";
import { jsonLogger } from "../observability/logger";

// Parsed once per isolate for a given env object; a bad value fails every request with a
// CONFIGURATION_ERROR naming the variable instead of crashing the isolate at start-up. The
// keys are imported here too, once: a secret that parses but holds no usable key fails every
// request the same way, the health check included.
type Loaded = { config: Config; keys: Promise<ServerKeys> };
const loaded = new WeakMap<object, Loaded>();

export const configuration = createMiddleware<AppEnv>(async (c, next) => {
  let entry = loaded.get(c.env);
  if (!entry) {
    const config = parseConfig(c.env as unknown as Record<string, unknown>);
    const keys = loadServerKeys(config);
    entry = { config, keys };
    loaded.set(c.env, entry);
    // A failed import is not kept: fixing the secret takes effect without a new isolate.
    keys.catch(() => loaded.delete(c.env));
  }
  c.set("config", entry.config);
  c.set("logger", jsonLogger(entry.config.logLevel, { requestId: c.get("requestId") }));
  c.set("keys", await entry.keys);
  await next();
});
