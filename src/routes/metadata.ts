import { Hono } from "hono";
import { z } from "zod";
import { openDatabase } from "../db/database";
import { MetadataRepository } from "../db/metadata-repository";
import { AppError } from "../errors";
import type { AppEnv } from "../http/app-env";
import { ok } from "../http/envelope";
import { validJson } from "../http/validate";
import { verifyMetadataBlob } from "../metadata/metadata-blob";

/** A JWT: three base64url parts (the signature part may be empty only for alg "none", which is refused anyway). */
const loadRequest = z.strictObject({
  blob: z
    .string()
    .max(60_000)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, "must be a metadata BLOB (a JWT)"),
});

/**
 * FIDO Metadata Service BLOBs, loaded by an operator (ATTESTATION_TRUST = "mds"; see
 * docs/conformance.md "Attestation trust"). Behind the admin key (src/middleware/admin-auth.ts).
 */
export const metadataRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const blob = await new MetadataRepository(openDatabase(c.env.DB)).currentBlob();
    return ok(c, blob ? describe(blob) : null);
  })
  .put("/", validJson(loadRequest), async (c) => {
    const { blob } = c.req.valid("json");
    const config = c.get("config");
    const now = new Date();
    const verified = await verifyMetadataBlob(blob, config.attestationTrust.mdsRootCertificate, now);
    const repository = new MetadataRepository(openDatabase(c.env.DB));
    const current = await repository.currentBlob();
    const stale = () =>
      new AppError(
        "METADATA_REJECTED",
        `The metadata BLOB number ${verified.no} is not higher than the loaded one (${current?.no ?? "?"})`,
      );
    // FIDO MDS: ignore a BLOB whose number is not higher than the last one loaded.
    if (current && verified.no <= current.no) throw stale();
    if (!(await repository.replace(verified, verified.entries))) throw stale();
    c.get("logger").log("info", {
      type: "metadata_loaded",
      no: verified.no,
      nextUpdate: verified.nextUpdate,
      entries: verified.entries.length,
    });
    return ok(c, { no: verified.no, nextUpdate: verified.nextUpdate, entryCount: verified.entries.length }, 201);
  });

function describe(blob: { no: number; nextUpdate: string; entryCount: number; loadedAt: Date }) {
  return {
    no: blob.no,
    nextUpdate: blob.nextUpdate,
    entryCount: blob.entryCount,
    loadedAt: blob.loadedAt.toISOString(),
  };
}
