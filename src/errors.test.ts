import { describe, expect, it } from "vitest";
import {
  AppError,
  CeremonyFailure,
  ConfigError,
  type ErrorCode,
  errorCatalogue,
  errorStatus,
  originNotAllowed,
  tooManyCredentials,
} from "./errors";

describe("the error catalogue", () => {
  const codes = Object.keys(errorCatalogue) as ErrorCode[];

  it.each(codes)("gives %s an error status and a message", (code) => {
    const { status, message } = errorCatalogue[code];
    expect(status >= 400 && status <= 599, `${code} -> ${status}`).toBe(true);
    expect(message.trim().length).toBeGreaterThan(0);
  });

  it("gives the status map the catalogue's statuses, code for code", () => {
    expect(Object.keys(errorStatus)).toEqual(codes);
    for (const code of codes) expect(errorStatus[code]).toBe(errorCatalogue[code].status);
  });

  it("keeps the statuses clients rely on", () => {
    expect(errorCatalogue.VALIDATION_ERROR.status).toBe(400);
    expect(errorCatalogue.AUTHENTICATION_FAILED.status).toBe(401);
    expect(errorCatalogue.REAUTHENTICATION_REQUIRED.status).toBe(403);
    expect(errorCatalogue.METHOD_NOT_ALLOWED.status).toBe(405);
    expect(errorCatalogue.USERNAME_TAKEN.status).toBe(409);
    expect(errorCatalogue.RATE_LIMIT_EXCEEDED.status).toBe(429);
    expect(errorCatalogue.CONFIGURATION_ERROR.status).toBe(500);
    expect(errorCatalogue.SERVICE_UNAVAILABLE.status).toBe(503);
  });
});

describe("AppError", () => {
  it("takes the catalogue's status and, without a message, its message", () => {
    const error = new AppError("INVALID_CHALLENGE");
    expect(error.status).toBe(400);
    expect(error.message).toBe("The challenge is unknown, expired or already used");
    expect(error.details).toBeUndefined();
    expect(error.cause).toBeUndefined();
  });

  it("keeps a given message, details for the client and a cause for the log", () => {
    const cause = new Error("D1_ERROR: no such table");
    const error = new AppError("SERVICE_UNAVAILABLE", "Try later", { details: { retry: true }, cause });
    expect(error).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: 503, message: "Try later" });
    expect(error.details).toEqual({ retry: true });
    expect(error.cause).toBe(cause);
  });

  it("gives a ceremony failure the same public answer whatever its reason", () => {
    const failure = new CeremonyFailure("bad_signature");
    expect(failure).toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ code: "AUTHENTICATION_FAILED", status: 401, message: "Authentication failed" });
    expect(failure.message).not.toContain("signature");
    expect(new CeremonyFailure("bad_rp_id", "REGISTRATION_FAILED").message).toBe("Registration failed");
  });

  it("names the refused origin and the setting to change", () => {
    const failure = originNotAllowed("REGISTRATION_FAILED", "http://localhost:5173");
    expect(failure.status).toBe(400);
    expect(failure.message).toBe("Registration failed: the origin http://localhost:5173 is not allowed (RP_ORIGINS)");
    expect(failure.details).toEqual({ origin: "http://localhost:5173", setting: "RP_ORIGINS" });
  });

  it("states the passkey limit", () => {
    expect(tooManyCredentials(3)).toMatchObject({
      code: "TOO_MANY_CREDENTIALS",
      status: 409,
      message: "An account can hold at most 3 passkeys",
    });
  });
});

describe("ConfigError", () => {
  it("carries the variable as a field, and names it in the message", () => {
    const error = new ConfigError("SESSION_SIGNING_KEY", "must be a JWK");
    expect(error.variable).toBe("SESSION_SIGNING_KEY");
    expect(error.message).toBe("SESSION_SIGNING_KEY: must be a JWK");
  });
});
