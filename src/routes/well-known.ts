import { Hono } from "hono";
import { relatedOriginsDocument } from "../ceremonies/related-origins";
import { AppError } from "../errors";
import { apiDocs } from "../http/api-docs";
import type { AppEnv } from "../http/app-env";

/**
 * The session token's public keys in standard JWKS form (not our envelope), so any JWT
 * library in an app backend can fetch and cache them.
 */
export const wellKnownRoutes = new Hono<AppEnv>()
  .get("/jwks.json", apiDocs.jwks, (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json(c.get("keys").sessions.jwks);
  })
  // Related origins (src/ceremonies/related-origins.ts): the bare document browsers fetch, as
  // application/json, or 404 when every origin is within the RP ID.
  .get("/webauthn", apiDocs.relatedOrigins, (c) => {
    const document = relatedOriginsDocument(c.get("config"));
    if (!document) throw new AppError("NOT_FOUND", "No related origins: every origin is within the RP ID");
    c.header("Cache-Control", "public, max-age=300");
    return c.json(document);
  });
