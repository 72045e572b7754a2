import { Hono } from "hono";
import type { AppEnv } from "../http/app-env";
import { ceremonyPorts } from "../middleware/ceremony-ports";

/**
 * The session token's public keys in standard JWKS form (not our envelope), so any JWT
 * library in an app backend can fetch and cache them.
 */
export const wellKnownRoutes = new Hono<AppEnv>().get("/jwks.json", ceremonyPorts, (c) => {
  c.header("Cache-Control", "public, max-age=300");
  return c.json(c.get("ports").sessions.jwks);
});
