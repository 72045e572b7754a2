import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

const now = sql`(CAST(unixepoch('subsec') * 1000 AS INTEGER))`;

export const users = sqliteTable("users", {
  /** WebAuthn user handle: 16 random bytes, base64url. Carries no personal data. */
  id: text("id").primaryKey(),
  /** Normalised (trimmed, NFC, case-folded) so look-alike spellings cannot coexist. */
  username: text("username").notNull().unique(),
  displayName: text("display_name").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull().default(now),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull().default(now),
  isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
});

export const credentials = sqliteTable(
  "credentials",
  {
    /** Our own row id (random, base64url); the raw credential id never leaves the encrypted column. */
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** HMAC-SHA-256 of the raw credential id under a server key: the lookup index. */
    credentialIdHash: text("credential_id_hash").notNull().unique(),
    /** AES-256-GCM of the raw credential id, prefixed with the key id that sealed it. */
    credentialIdEncrypted: text("credential_id_encrypted").notNull(),
    publicKey: text("public_key").notNull(),
    algorithm: integer("algorithm").notNull(),
    aaguid: text("aaguid").notNull(),
    signCount: integer("sign_count").notNull().default(0),
    transports: text("transports", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    deviceType: text("device_type", { enum: ["singleDevice", "multiDevice"] }).notNull(),
    backupEligible: integer("backup_eligible", { mode: "boolean" }).notNull(),
    backupState: integer("backup_state", { mode: "boolean" }).notNull(),
    userVerified: integer("user_verified", { mode: "boolean" }).notNull(),
    attestationFormat: text("attestation_format").notNull(),
    name: text("name").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull().default(now),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull().default(now),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
    /** Set when an assertion showed signs of a cloned or tampered authenticator; shown to the owner. */
    flag: text("flag", { enum: ["clone_suspected", "backup_flag_regression"] }),
    flaggedAt: integer("flagged_at", { mode: "timestamp_ms" }),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
  },
  (table) => [index("credentials_user_id_idx").on(table.userId)],
);

export type UserRow = typeof users.$inferSelect;
export type CredentialRow = typeof credentials.$inferSelect;
export type NewCredentialRow = typeof credentials.$inferInsert;

/**
 * FIDO Metadata Service (MDS3) BLOBs an operator loaded, newest `no` first. Only the BLOB's
 * header facts are kept: its entries are in metadata_entries, replaced as a whole with it.
 */
export const metadataBlobs = sqliteTable("metadata_blobs", {
  /** The BLOB's serial number; a BLOB is loaded only if its number is higher than the last one. */
  no: integer("no").primaryKey(),
  /** When the publisher promises the next BLOB (YYYY-MM-DD). */
  nextUpdate: text("next_update").notNull(),
  entryCount: integer("entry_count").notNull(),
  loadedAt: integer("loaded_at", { mode: "timestamp_ms" }).notNull().default(now),
});

/** The entries of the loaded BLOB, one row per AAGUID or per U2F attestation key identifier. */
export const metadataEntries = sqliteTable("metadata_entries", {
  /** `aaguid:<uuid>` (FIDO2) or `akid:<hex SHA-1 of the attestation public key>` (U2F). */
  key: text("key").primaryKey(),
  blobNo: integer("blob_no").notNull(),
  /** The metadata statement (JSON), without its icon. */
  statement: text("statement", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  /** The entry's status reports (JSON array), newest as published. */
  statusReports: text("status_reports", { mode: "json" })
    .$type<{ status: string; effectiveDate?: string }[]>()
    .notNull(),
});

export type MetadataBlobRow = typeof metadataBlobs.$inferSelect;
export type MetadataEntryRow = typeof metadataEntries.$inferSelect;
