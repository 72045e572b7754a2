import { createMiddleware } from "hono/factory";
import { TrieRouter } from "hono/router/trie-router";
import type { RouterRoute } from "hono/types";
import { AppError } from "../errors";
import type { AppEnv } from "../http/app-env";

/**
 * A known path asked with a method it does not have answers 405 METHOD_NOT_ALLOWED with an
 * `Allow` header, before any body check or session check could answer something misleading
 * (415, 401). The methods come from the app's own routes (`app.routes`), read at the first
 * request, so a route added later is covered without a list to keep in step. HEAD goes with GET
 * (Hono answers it from the GET route); OPTIONS is the CORS middleware's, which runs first.
 */
const RECENT_PATHS_LIMIT = 1024;

export function allowedMethods(routes: () => RouterRoute[]) {
  let methodsByPath: TrieRouter<string> | undefined;
  // The answer for each recent path, so a path asked again (sign-in's two calls, a client's
  // next request) costs a lookup instead of a route match. Paths come from clients: bounded.
  const recentPaths = new Map<string, ReadonlySet<string>>();
  const match = (path: string): ReadonlySet<string> => {
    if (!methodsByPath) {
      methodsByPath = new TrieRouter<string>();
      // Middleware is registered as "ALL": only real handlers say which methods a path has.
      for (const route of routes()) if (route.method !== "ALL") methodsByPath.add("ALL", route.path, route.method);
    }
    const [matches] = methodsByPath.match("GET", path);
    const methods = new Set(matches.map(([method]) => method as string));
    if (methods.has("GET")) methods.add("HEAD");
    return methods;
  };
  const allowFor = (path: string): ReadonlySet<string> => {
    let methods = recentPaths.get(path);
    if (!methods) {
      methods = match(path);
      if (recentPaths.size >= RECENT_PATHS_LIMIT) recentPaths.delete(recentPaths.keys().next().value as string);
      recentPaths.set(path, methods);
    }
    return methods;
  };

  return createMiddleware<AppEnv>(async (c, next) => {
    const allowed = allowFor(c.req.path);
    if (allowed.size === 0 || allowed.has(c.req.method)) return next();
    const allow = [...allowed].sort().join(", ");
    c.header("Allow", allow);
    throw new AppError("METHOD_NOT_ALLOWED", `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow}`, {
      details: { allowed: allow.split(", ") },
    });
  });
}
