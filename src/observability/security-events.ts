import type { Logger } from "./logger";

export type SecurityEventType =
  | "registration_attempt"
  | "authentication_attempt"
  | "clone_suspected"
  | "backup_flag_regression"
  | "credential_added";

export type SecurityEvent = {
  event: SecurityEventType;
  outcome: "success" | "failure";
  /** Machine-readable cause; for failures, the one thing the client is never told. */
  reason?: string;
  userId?: string | null;
  /** Our row id of the credential, never the raw WebAuthn credential id. */
  credentialRowId?: string;
};

export type SecurityEvents = { record(event: SecurityEvent): void };

export function securityEventLog(logger: Logger): SecurityEvents {
  return {
    record(event) {
      logger.log(event.outcome === "failure" ? "warn" : "info", { type: "security_event", ...event });
    },
  };
}
