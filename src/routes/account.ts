import { Hono } from "hono";
import { deleteAccount, describeAccount } from "../accounts/self-service";
import { apiDocs } from "../http/api-docs";
import type { SessionEnv } from "../http/app-env";
import { ok } from "../http/envelope";

/** The caller's own account (Authorization: Bearer <session token>), behind `signedIn`: docs/api-management.md. */
export const accountRoutes = new Hono<SessionEnv>()
  .get("/", apiDocs.account.describe, async (c) => ok(c, await describeAccount(c.get("account"), c.get("ports"))))
  .delete("/", apiDocs.account.remove, async (c) => ok(c, await deleteAccount(c.get("account"), c.get("ports"))));
