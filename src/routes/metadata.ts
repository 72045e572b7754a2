import { Hono } from "hono";
import { z } from "zod";
import { apiDocs } from "../http/api-docs";
import type { AppEnv } from "../http/app-env";
import { ok } from "../http/envelope";
import { validJson, validParams } from "../http/validate";
import {
  listMetadataSources,
  loadMetadataBlob,
  loadMetadataStatements,
  MDS_SOURCE,
  removeMetadataSource,
  STATEMENTS_SOURCE,
} from "../metadata/metadata-sources";
import { jsonBody, MAX_METADATA_BODY_BYTES } from "../middleware/json-body";

const sourceName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "must be 1 to 32 lower-case letters, digits or dashes");

/** A JWT: three base64url parts (the signature part may be empty only for alg "none", which is refused anyway). */
const loadRequest = z.strictObject({
  blob: z
    .string()
    .max(MAX_METADATA_BODY_BYTES)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, "must be a metadata BLOB (a JWT)"),
  source: sourceName
    .refine((name) => name !== STATEMENTS_SOURCE, `"${STATEMENTS_SOURCE}" holds loose statements`)
    .default(MDS_SOURCE),
});

/** Statements are checked one by one when loaded (src/metadata/metadata-statement.ts). */
const statementsRequest = z.strictObject({
  statements: z.array(z.record(z.string(), z.unknown())).max(2000),
});

const sourceParam = z.strictObject({ source: sourceName });

/** The production FIDO MDS BLOB is several MB: these loads, behind the admin key, may send more. */
const metadataBody = jsonBody({ maxBytes: MAX_METADATA_BODY_BYTES });

/**
 * FIDO metadata, loaded by an operator (ATTESTATION_TRUST = "mds"; see docs/conformance.md
 * "Attestation trust"): MDS3 BLOBs by source name, and loose statements for testing. Behind the
 * admin key (src/middleware/admin-auth.ts); the only routes with the larger body limit
 * (metadataBody), since the production FIDO MDS BLOB is several MB.
 */
export const metadataRoutes = new Hono<AppEnv>()
  .get("/", apiDocs.metadata.list, async (c) => ok(c, await listMetadataSources(c.get("ports"))))
  .put("/", apiDocs.metadata.loadBlob, metadataBody, validJson(loadRequest), async (c) =>
    ok(c, await loadMetadataBlob(c.req.valid("json"), c.get("ports")), 201),
  )
  .put("/statements", apiDocs.metadata.loadStatements, metadataBody, validJson(statementsRequest), async (c) =>
    ok(c, await loadMetadataStatements(c.req.valid("json").statements, c.get("ports")), 201),
  )
  // No body to read, but one sent is held to the rules of every body (JSON, the default cap).
  .delete("/:source", apiDocs.metadata.remove, jsonBody(), validParams(sourceParam), async (c) =>
    ok(c, await removeMetadataSource(c.req.valid("param").source, c.get("ports"))),
  );
