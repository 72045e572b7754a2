import type { Metrics } from "./analytics";
import type { Logger } from "./logger";

export type SecurityEventType =
  | "registration_attempt"
  | "authentication_attempt"
  | "clone_suspected"
  | "backup_flag_regression"
  | "credential_added"
  | "credential_removed"
  // Self-service (docs/api-management.md): the owner renamed a passkey or deleted the account.
  | "credential_renamed"
  | "account_deleted"
  // DELETE /api/v1/session: the owner ended a session before its expiry.
  | "signed_out"
  // Admin API (docs/api-management.md): every operator action, reads included.
  | "admin_users_listed"
  | "admin_user_viewed"
  | "admin_user_disabled"
  | "admin_user_enabled"
  | "admin_user_deleted"
  | "admin_credential_disabled"
  | "admin_credential_enabled"
  | "admin_credential_removed"
  // FIDO metadata (docs/conformance.md "Attestation trust"): operator loads, reads and removals,
  // and the scheduled refresh from MDS_URL.
  | "admin_metadata_viewed"
  | "admin_metadata_loaded"
  | "admin_metadata_removed"
  | "metadata_refreshed"
  | "admin_auth_failed"
  | "rate_limited"
  | "rate_limiter_fault";

export type SecurityEvent = {
  event: SecurityEventType;
  outcome: "success" | "failure";
  /** Machine-readable cause; for failures, the one thing the client is never told. */
  reason?: string;
  userId?: string | null;
  /** Our row id of the credential, never the raw WebAuthn credential id. */
  credentialRowId?: string;
  /** Rate limiting, refused admin calls: the client (IPv4 address or IPv6 /64); the JSON log only, never metrics. */
  client?: string;
};

export type SecurityEvents = { record(event: SecurityEvent): void };

/** JSON log line per event; also a data point per event when Analytics Engine metrics are given. */
export function securityEventLog(logger: Logger, metrics?: Metrics): SecurityEvents {
  return {
    record(event) {
      logger.log(event.outcome === "failure" ? "warn" : "info", { type: "security_event", ...event });
      metrics?.securityEvent(event);
    },
  };
}
