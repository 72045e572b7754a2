import { createMiddleware } from "hono/factory";
import { type Config, parseConfig } from "../config/config";
import { loadServerKeys } from "../crypto/server-keys";
import type { AppEnv } from "../http/app-env";
import { jsonLogger } from "../observability/logger";

// Per-isolate cache (each module-level cache says why it may be one): parsed once per env
// object, whose values do not change under it; a new env object (a deploy, a test's env) is
// parsed anew. A bad value fails every request with a CONFIGURATION_ERROR naming the variable
// instead of crashing the isolate at start-up. The keys are imported here too (once per parsed
// configuration): a secret that parses but holds no usable key fails every request the same
// way, the health check included.
const parsed = new WeakMap<object, Config>();

/** The configuration of `env`, parsed once (for requests and the cron jobs alike). */
export function configOf(env: Env): Config {
  let config = parsed.get(env);
  if (!config) {
    config = parseConfig(env as unknown as Record<string, unknown>);
    parsed.set(env, config);
  }
  return config;
}

export const configuration = createMiddleware<AppEnv>(async (c, next) => {
  const config = configOf(c.env);
  c.set("config", config);
  c.set("logger", jsonLogger(config.logLevel, { requestId: c.get("requestId") }));
  c.set("keys", await loadServerKeys(config));
  await next();
});
