import { Hono } from "hono";
import { signOut } from "../accounts/self-service";
import { apiDocs } from "../http/api-docs";
import type { SessionEnv } from "../http/app-env";
import { ok } from "../http/envelope";

/** The calling session itself (Authorization: Bearer <session token>), behind `signedIn`: docs/api-management.md. */
export const sessionRoutes = new Hono<SessionEnv>().delete("/", apiDocs.session.end, async (c) =>
  ok(c, await signOut(c.get("account"), c.get("ports"))),
);
