import { z } from "zod";
import { userVerificationLevels } from "../config/config";

/** Unpadded base64url only: padded or standard base64 is a different spelling and is refused. */
export const base64url = (maxChars: number) =>
  z
    .string()
    .min(1)
    .max(maxChars)
    .regex(/^[A-Za-z0-9_-]+$/, "must be unpadded base64url");

// A credential id is at most 1023 bytes (WebAuthn L3), which is 1364 base64url characters.
const credentialId = base64url(1364);
const clientDataJSON = base64url(4096);
const transports = z.array(z.string().regex(/^[a-z-]{1,32}$/)).max(8);
const extensionResults = z.record(z.string(), z.unknown());

export const username = z
  .string()
  .transform((value) => value.trim())
  .pipe(
    z
      .string()
      .min(1, "must not be empty")
      .max(64, "must be at most 64 characters")
      // Control and format characters hide look-alike names and break logs.
      .refine((value) => !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(value), "must not contain control characters"),
  );

export const userVerification = z.enum(userVerificationLevels);

/** RegistrationResponseJSON, as `navigator.credentials.create()` serialises it. */
export const registrationResponse = z.object({
  id: credentialId,
  rawId: credentialId,
  type: z.literal("public-key"),
  response: z.object({
    clientDataJSON,
    attestationObject: base64url(32_768),
    authenticatorData: base64url(16_384).optional(),
    transports: transports.optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: base64url(4096).optional(),
  }),
  authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
  clientExtensionResults: extensionResults,
});

/** AuthenticationResponseJSON, as `navigator.credentials.get()` serialises it. */
export const authenticationResponse = z.object({
  id: credentialId,
  rawId: credentialId,
  type: z.literal("public-key"),
  response: z.object({
    clientDataJSON,
    authenticatorData: base64url(16_384),
    signature: base64url(2048),
    // User handles are at most 64 bytes (86 base64url characters).
    // Some clients send null when the authenticator returned none.
    userHandle: base64url(86)
      .nullish()
      .transform((value) => value ?? undefined),
  }),
  authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
  clientExtensionResults: extensionResults,
});
