/**
 * The one error type of the service. Ceremonies and repositories throw it; the error
 * handler turns it into the JSON envelope with the status mapped from its code.
 */
export const errorStatus = {
  VALIDATION_ERROR: 400,
  INVALID_REQUEST: 400,
  INVALID_CHALLENGE: 400,
  REGISTRATION_FAILED: 400,
  /** An operator-provided FIDO metadata BLOB failed verification (docs/conformance.md). */
  METADATA_REJECTED: 400,
  AUTHENTICATION_FAILED: 401,
  UNAUTHORIZED: 401,
  /** The session may read but not change the account: sign in again with user verification (docs/security.md "Sessions"). */
  REAUTHENTICATION_REQUIRED: 403,
  USER_NOT_FOUND: 404,
  CREDENTIAL_NOT_FOUND: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  USERNAME_TAKEN: 409,
  CREDENTIAL_EXISTS: 409,
  TOO_MANY_CREDENTIALS: 409,
  /** Removing it would leave the account without an active passkey (see docs/api-management.md). */
  LAST_PASSKEY: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  CONFIGURATION_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export class AppError extends Error {
  readonly status: (typeof errorStatus)[ErrorCode];

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "AppError";
    this.status = errorStatus[code];
  }
}

/**
 * A verification failure whose precise reason goes to the security log only: the client
 * always sees the same AUTHENTICATION_FAILED (or the given public code) so failures cannot
 * be told apart from outside.
 */
export class CeremonyFailure extends AppError {
  constructor(
    readonly reason: string,
    code: "AUTHENTICATION_FAILED" | "REGISTRATION_FAILED" = "AUTHENTICATION_FAILED",
    message = code === "AUTHENTICATION_FAILED" ? "Authentication failed" : "Registration failed",
    /** Only what the client may know anyway (the Signal API hint for an unknown credential). */
    details?: unknown,
  ) {
    super(code, message, details);
    this.name = "CeremonyFailure";
  }
}

/**
 * The one ceremony failure the client is told the reason of: the page's origin is not allowed.
 * The origin is the browser's own statement and RP_ORIGINS is the setting to change; neither is
 * secret, and a developer on another port would otherwise find the cause only in the server log.
 */
export function originNotAllowed(
  code: "AUTHENTICATION_FAILED" | "REGISTRATION_FAILED",
  origin: string,
): CeremonyFailure {
  const what = code === "AUTHENTICATION_FAILED" ? "Authentication" : "Registration";
  return new CeremonyFailure(
    "origin_not_allowed",
    code,
    `${what} failed: the origin ${origin} is not allowed (RP_ORIGINS)`,
    { origin, setting: "RP_ORIGINS" },
  );
}

/** Library messages are for our log only: they name the check that failed. */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.slice(0, 160);
}
