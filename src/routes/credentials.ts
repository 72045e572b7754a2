import { Hono } from "hono";
import { z } from "zod";
import { listPasskeys, removePasskey, renamePasskey } from "../accounts/self-service";
import { apiDocs } from "../http/api-docs";
import type { SessionEnv } from "../http/app-env";
import { ok } from "../http/envelope";
import { validJson, validParams, validQuery } from "../http/validate";
import { MAX_PASSKEY_NAME_LENGTH } from "../metadata/authenticator-names";

/** Our passkey ids are 16 random bytes in base64url; anything else is not an id at all. */
export const passkeyIdParam = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a passkey id") });

/** A user's label for a passkey: shown back in lists, so no control or bidi-override characters. */
const passkeyName = z
  .string()
  .transform((value) => value.trim())
  .pipe(
    z
      .string()
      .min(1, "must not be empty")
      .max(MAX_PASSKEY_NAME_LENGTH, `must be at most ${MAX_PASSKEY_NAME_LENGTH} characters`)
      .refine((value) => value.isWellFormed(), "must be well-formed Unicode")
      .refine(
        (value) => !/[\p{Cc}\p{Zl}\p{Zp}]|(?![\u200C\u200D])\p{Cf}/u.test(value),
        "must not contain control characters",
      ),
  );

const renameRequest = z.strictObject({ name: passkeyName });

const removeQuery = z.strictObject({ force: z.enum(["true", "false"]).optional() });

/**
 * The caller's own passkeys (Authorization: Bearer <session token>), mounted behind `signedIn`:
 * docs/api-management.md.
 */
export const credentialRoutes = new Hono<SessionEnv>()
  .get("/", apiDocs.credentials.list, async (c) => {
    const account = c.get("account");
    return ok(c, { credentials: await listPasskeys(account, c.get("ports")) });
  })
  .patch("/:id", apiDocs.credentials.rename, validParams(passkeyIdParam), validJson(renameRequest), async (c) => {
    const account = c.get("account");
    const { id } = c.req.valid("param");
    return ok(c, await renamePasskey(account, id, c.req.valid("json").name, c.get("ports")));
  })
  .delete("/:id", apiDocs.credentials.remove, validParams(passkeyIdParam), validQuery(removeQuery), async (c) => {
    const account = c.get("account");
    const { id } = c.req.valid("param");
    const force = c.req.valid("query").force === "true";
    return ok(c, await removePasskey(account, id, { force }, c.get("ports")));
  });
