import { z } from "zod";
import { hasInvisibleCharacters, normalizeUsername } from "../ceremonies/username";
import { userVerificationLevels } from "../config/config";
import { CONFORMANCE_USERNAME_PREFIX, isConformanceAccount } from "../conformance/accounts";

const base64urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * One value, one spelling: besides padding, a length no byte string encodes to (4n+1) and
 * set bits after the last byte (which decoders silently drop) are refused.
 */
function isCanonicalBase64url(value: string): boolean {
  const tail = value.length % 4;
  if (tail === 1) return false;
  if (tail === 0) return true;
  const last = base64urlAlphabet.indexOf(value.at(-1) ?? "");
  return (last & (tail === 2 ? 0x0f : 0x03)) === 0;
}

/** Unpadded base64url only: padded or standard base64 is a different spelling and is refused. */
export const base64url = (maxChars: number) =>
  z
    .string()
    .min(1)
    .max(maxChars)
    .regex(/^[A-Za-z0-9_-]+$/, "must be unpadded base64url")
    .refine(isCanonicalBase64url, "must be canonical base64url (no impossible length, no bits after the last byte)");

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
      // Lone surrogates cannot be stored as UTF-8: two such names would collide in D1.
      .refine((value) => value.isWellFormed(), "must be well-formed Unicode")
      // Control and format characters hide look-alike names and break logs.
      .refine((value) => !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(value), "must not contain control characters")
      // Fillers, joiners, variation selectors and blanks: look-alike names that show as nothing.
      .refine((value) => !hasInvisibleCharacters(value), "must not contain invisible characters")
      // Counted as stored: case folding can lengthen a name ("İ" becomes two characters).
      .refine((value) => normalizeUsername(value).length <= 64, "must be at most 64 characters")
      .refine((value) => !isConformanceAccount(value), `must not start with "${CONFORMANCE_USERNAME_PREFIX}"`),
  );

/** Shown to the user by their authenticator; emoji joiners are fine, bidi overrides are not. */
export const displayName = z
  .string()
  .transform((value) => value.trim())
  .pipe(
    z
      .string()
      .min(1, "must not be empty")
      .max(64, "must be at most 64 characters")
      .refine((value) => value.isWellFormed(), "must be well-formed Unicode")
      .refine(
        (value) => !/[\p{Cc}\p{Zl}\p{Zp}]|(?![\u200C\u200D])\p{Cf}/u.test(value),
        "must not contain control characters",
      ),
  );

/** `id` and `rawId` are two spellings of one value (the ceremonies check it again). */
const idEqualsRawId = (credential: { id: string; rawId: string }) => credential.id === credential.rawId;
const rawIdIssue = { message: "must equal credential.id", path: ["rawId"] };

export const userVerification = z.enum(userVerificationLevels);

/** RegistrationResponseJSON, as `navigator.credentials.create()` serialises it. */
export const registrationResponse = z
  .object({
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
  })
  .refine(idEqualsRawId, rawIdIssue);

/** AuthenticationResponseJSON, as `navigator.credentials.get()` serialises it. */
export const authenticationResponse = z
  .object({
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
  })
  .refine(idEqualsRawId, rawIdIssue);
