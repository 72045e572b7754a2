/**
 * The error catalogue: every code the service answers with, its HTTP status and its default
 * message. A throw names a code and adds a message only when it says more than the default
 * (a limit, a setting's name); the error handler turns any AppError into the JSON envelope.
 */
export const errorCatalogue = {
  VALIDATION_ERROR: { status: 400, message: "The request is not valid" },
  INVALID_REQUEST: { status: 400, message: "Invalid request" },
  INVALID_CHALLENGE: { status: 400, message: "The challenge is unknown, expired or already used" },
  REGISTRATION_FAILED: { status: 400, message: "Registration failed" },
  /** An operator-provided FIDO metadata BLOB failed verification (docs/conformance.md). */
  METADATA_REJECTED: { status: 400, message: "The metadata was refused" },
  AUTHENTICATION_FAILED: { status: 401, message: "Authentication failed" },
  UNAUTHORIZED: { status: 401, message: "The session token is invalid or expired" },
  /** The session may read but not change the account: sign in again with user verification (docs/security.md "Sessions"). */
  REAUTHENTICATION_REQUIRED: {
    status: 403,
    message: "This change needs a recent sign-in with user verification (PIN, biometrics)",
  },
  USER_NOT_FOUND: { status: 404, message: "No such user" },
  CREDENTIAL_NOT_FOUND: { status: 404, message: "No such passkey" },
  NOT_FOUND: { status: 404, message: "Not found" },
  METHOD_NOT_ALLOWED: { status: 405, message: "Method not allowed" },
  USERNAME_TAKEN: { status: 409, message: "This username is already registered" },
  CREDENTIAL_EXISTS: { status: 409, message: "This passkey is already registered" },
  TOO_MANY_CREDENTIALS: { status: 409, message: "The account holds as many passkeys as it may" },
  /** Removing it would leave the account without an active passkey (see docs/api-management.md). */
  LAST_PASSKEY: {
    status: 409,
    message: "This is the account's last active passkey: add another one first, or remove it with ?force=true",
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: "Request body too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Content-Type must be application/json" },
  RATE_LIMIT_EXCEEDED: { status: 429, message: "Too many requests; retry later" },
  INTERNAL_ERROR: { status: 500, message: "Internal server error" },
  /** Names the bad variables in `details.variables`, never a value (src/config/config.ts). */
  CONFIGURATION_ERROR: { status: 500, message: "Invalid configuration" },
  SERVICE_UNAVAILABLE: { status: 503, message: "A dependency is unavailable" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;
export type ErrorStatus = (typeof errorCatalogue)[ErrorCode]["status"];

/** Each code's HTTP status alone (the catalogue's), for readers that need no message. */
export const errorStatus = Object.fromEntries(
  Object.entries(errorCatalogue).map(([code, { status }]) => [code, status]),
) as { readonly [C in ErrorCode]: (typeof errorCatalogue)[C]["status"] };

export type AppErrorOptions = {
  /** Sent to the client as `error.details`: only what the client may know. */
  details?: unknown;
  /** The error this one stands for; logged (src/observability/error-chain.ts), never sent. */
  cause?: unknown;
};

/** The one error type of the service: ceremonies and repositories throw it. */
export class AppError extends Error {
  readonly status: ErrorStatus;
  readonly details?: unknown;

  constructor(
    readonly code: ErrorCode,
    message: string = errorCatalogue[code].message,
    options: AppErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.status = errorCatalogue[code].status;
    if (options.details !== undefined) this.details = options.details;
  }
}

/**
 * A setting that cannot be used, found where it is parsed (a secret's key material, say): the
 * variable is a field, so whoever catches it maps it to a CONFIGURATION_ERROR naming that
 * variable without reading the message. The message names what is wrong, never the value.
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${variable}: ${problem}`, options);
    this.name = "ConfigError";
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
    /** `details`: only what the client may know anyway (the Signal API hint for an unknown credential). */
    options: { message?: string } & AppErrorOptions = {},
  ) {
    super(code, options.message, options);
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
  return new CeremonyFailure("origin_not_allowed", code, {
    message: `${what} failed: the origin ${origin} is not allowed (RP_ORIGINS)`,
    details: { origin, setting: "RP_ORIGINS" },
  });
}

/** No such route; also what a switched-off surface answers, so it looks like no route at all. */
export function noRoute(method: string, path: string): AppError {
  return new AppError("NOT_FOUND", `No route for ${method} ${path}`);
}

/** An account already holds as many passkeys as MAX_CREDENTIALS_PER_USER allows (at options and again at verify). */
export function tooManyCredentials(maxCredentialsPerUser: number): AppError {
  return new AppError("TOO_MANY_CREDENTIALS", `An account can hold at most ${maxCredentialsPerUser} passkeys`);
}

/** Library messages are for our log only: they name the check that failed. */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.slice(0, 160);
}
