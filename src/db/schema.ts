import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

const now = sql`(CAST(unixepoch('subsec') * 1000 AS INTEGER))`;

export const users = sqliteTable("users", {
  /** WebAuthn user handle: 16 random bytes, base64url. Carries no personal data. */
  id: text("id").primaryKey(),
  /** Normalised (trimmed, NFKC, case-folded) so one name typed two ways is one account. */
  username: text("username").notNull().unique(),
  /**
   * The name's UTS #39 confusable skeleton (src/ceremonies/username.ts), unique so names that
   * look alike cannot both be accounts. Null only for rows from before the column, until the
   * cron trigger fills it in (src/jobs/username-skeleton-backfill.ts).
   */
  usernameSkeleton: text("username_skeleton").unique(),
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

/**
 * Session tokens ended before their `exp` (sign-out), by their `jti`. A row is needed only
 * while its token could still be presented: the cron trigger deletes it after `expires_at`.
 */
export const revokedSessions = sqliteTable("revoked_sessions", {
  jti: text("jti").primaryKey(),
  /** The token's own expiry (ms): after it the token is refused anyway. */
  expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
});

export type UserRow = typeof users.$inferSelect;
export type CredentialRow = typeof credentials.$inferSelect;
export type NewCredentialRow = typeof credentials.$inferInsert;

/**
 * FIDO metadata an operator loaded, one row per source: a verified MDS3 BLOB under a name of the
 * operator's choosing ("mds" is the one refreshed from MDS_URL), or the loose metadata
 * statements of the "statements" source (for testing, e.g. the conformance tool's). Each source
 * is replaced as a whole; sources never mix.
 */
export const metadataSources = sqliteTable("metadata_sources", {
  name: text("name").primaryKey(),
  kind: text("kind", { enum: ["blob", "statements"] }).notNull(),
  /** The BLOB's serial number (0 for statements): a BLOB source only ever moves to a higher one. */
  no: integer("no").notNull(),
  /** When the publisher promises the next BLOB (YYYY-MM-DD); null for statements. */
  nextUpdate: text("next_update"),
  entryCount: integer("entry_count").notNull(),
  loadedAt: integer("loaded_at", { mode: "timestamp_ms" }).notNull().default(now),
  /** Last scheduled look at MDS_URL, whether or not it brought a newer BLOB. */
  checkedAt: integer("checked_at", { mode: "timestamp_ms" }),
});

/** One row per metadata entry (statement and status reports) of a source, in the source's order. */
export const metadataEntries = sqliteTable(
  "metadata_entries",
  {
    source: text("source").notNull(),
    position: integer("position").notNull(),
    /** The metadata statement (JSON), without its icon. */
    statement: text("statement", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    /** The entry's status reports (JSON array), as published; empty for loose statements. */
    statusReports: text("status_reports", { mode: "json" })
      .$type<{ status: string; effectiveDate?: string }[]>()
      .notNull(),
    /** The statement's icon, a data: URL of a raster image, kept apart so trust lookups never read it. */
    icon: text("icon"),
  },
  (table) => [primaryKey({ columns: [table.source, table.position] })],
);

/**
 * How entries are found: `aaguid:<uuid>` (FIDO2) or `akid:<hex SHA-1 of the attestation public
 * key>` (U2F). A key may name several entries (of one source or of several); see
 * src/ceremonies/attestation-trust.ts for how they are weighed.
 */
export const metadataKeys = sqliteTable(
  "metadata_keys",
  {
    key: text("key").notNull(),
    source: text("source").notNull(),
    position: integer("position").notNull(),
  },
  (table) => [primaryKey({ columns: [table.key, table.source, table.position] })],
);

export type MetadataSourceRow = typeof metadataSources.$inferSelect;
export type MetadataEntryRow = typeof metadataEntries.$inferSelect;
