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
 *
 * A request the rate limiter stopped (refused, or failed closed) was never attempted: its
 * answer is the limiter's whatever the ceremony did (src/middleware/rate-limit.ts), the
 * limiter's own event (`rate_limited`, `rate_limiter_fault`) records it, and the ceremony,
 * which writes nothing before the verdict, changed nothing. It gets no attempt event.
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
    if (!recorded && (await admitted(ports))) {
      ports.events.record({ event, outcome: "failure", reason: failureReason(error) });
    }
    throw error;
  }
}

/**
 * The limiter's verdict on this request. The ceremony has usually asked for it already (its
 * first storage call waits with it); one that failed before asking (a malformed response) asks
 * now, which is the same single round trip the middleware would otherwise make after it.
 */
function admitted(ports: CeremonyPorts): Promise<boolean> {
  return ports.admission().then(
    () => true,
    () => false,
  );
}

function failureReason(error: unknown): NonNullable<SecurityEvent["reason"]> {
  if (error instanceof AppError) return error.code.toLowerCase();
  return isStorageFault(error) ? "storage_fault" : "internal_error";
}
