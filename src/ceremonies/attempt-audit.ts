import { AppError } from "../errors";
import { isStorageFault } from "../observability/error-chain";
import type { SecurityEvent, SecurityEvents } from "../observability/security-events";
import type { CeremonyPorts } from "./ports";

export type AttemptEvent = "registration_attempt" | "authentication_attempt";

/**
 * Runs a verify ceremony so that it ends with exactly one attempt event in the audit trail.
 * The ceremony records its own outcome: success, or the reason it refused. When it ends
 * without one (storage failed under it, or its input was refused before any check), the
 * failure is recorded here, with `storage_fault` for a fault of D1 or a Durable Object, so
 * the trail shows every attempt whatever went wrong.
 */
export async function auditedAttempt<T>(
  event: AttemptEvent,
  ports: CeremonyPorts,
  ceremony: (ports: CeremonyPorts) => Promise<T>,
): Promise<T> {
  let recorded = false;
  const events: SecurityEvents = {
    record(entry) {
      if (entry.event === event) recorded = true;
      ports.events.record(entry);
    },
  };
  try {
    return await ceremony({ ...ports, events });
  } catch (error) {
    if (!recorded) ports.events.record({ event, outcome: "failure", reason: failureReason(error) });
    throw error;
  }
}

function failureReason(error: unknown): NonNullable<SecurityEvent["reason"]> {
  if (error instanceof AppError) return error.code.toLowerCase();
  return isStorageFault(error) ? "storage_fault" : "internal_error";
}
