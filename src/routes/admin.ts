import { Hono } from "hono";
import { z } from "zod";
import {
  deleteUser,
  getUser,
  listUsers,
  removeCredential,
  setCredentialActive,
  setUserActive,
} from "../accounts/administration";
import { apiDocs } from "../http/api-docs";
import type { AppEnv } from "../http/app-env";
import { ok } from "../http/envelope";
import { validJson, validParams, validQuery } from "../http/validate";
import { passkeyIdParam } from "./credentials";

/** User handles are 16 random bytes in base64url (up to 64 bytes by WebAuthn). */
const userIdParam = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,86}$/, "must be a user id") });

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).max(512).optional(),
  prefix: z.string().min(1).max(64).optional(),
});

const activation = z.strictObject({ active: z.boolean() });

/**
 * Operator endpoints, mounted behind ADMIN_API_KEY (src/middleware/admin-auth.ts) and the
 * default body cap (src/app.ts):
 * docs/api-management.md "Admin API".
 */
export const adminUserRoutes = new Hono<AppEnv>()
  .get("/", apiDocs.admin.listUsers, validQuery(listQuery), async (c) =>
    ok(c, await listUsers(c.req.valid("query"), c.get("ports"))),
  )
  .get("/:id", apiDocs.admin.getUser, validParams(userIdParam), async (c) =>
    ok(c, await getUser(c.req.valid("param").id, c.get("ports"))),
  )
  .patch("/:id", apiDocs.admin.setUserActive, validParams(userIdParam), validJson(activation), async (c) => {
    const user = await setUserActive(c.req.valid("param").id, c.req.valid("json").active, c.get("ports"));
    return ok(c, { user });
  })
  .delete("/:id", apiDocs.admin.deleteUser, validParams(userIdParam), async (c) =>
    ok(c, await deleteUser(c.req.valid("param").id, c.get("ports"))),
  );

export const adminCredentialRoutes = new Hono<AppEnv>()
  .patch("/:id", apiDocs.admin.setCredentialActive, validParams(passkeyIdParam), validJson(activation), async (c) => {
    const { id } = c.req.valid("param");
    return ok(c, await setCredentialActive(id, c.req.valid("json").active, c.get("ports")));
  })
  .delete("/:id", apiDocs.admin.removeCredential, validParams(passkeyIdParam), async (c) =>
    ok(c, await removeCredential(c.req.valid("param").id, c.get("ports"))),
  );
