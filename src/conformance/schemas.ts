import { z } from "zod";
import { fromBase64URL } from "../crypto/encoding";
import { base64url, displayName, username, userVerification } from "../http/request-schemas";
import { CONFORMANCE_USERNAME_PREFIX } from "./accounts";

/**
 * Request bodies of the FIDO conformance binding ("Server Requirements and Transport Binding
 * Profile"), validated field by field before any ceremony runs. The conformance tools send
 * wrong types on purpose (`false`, `0`, `[]`, `{}`, a string where an object belongs) and
 * padded standard base64 where base64url belongs: every such value is refused here, not left
 * to a truthiness check further down.
 */

/**
 * Validated by the native rules, but kept as sent: the binding echoes `user.name` and
 * `user.displayName` exactly, while the ceremony stores the normalised form (trimmed; the
 * username also NFKC and case folded) just as the native API does.
 */
function asSent(schema: z.ZodType<string, string>) {
  return z.string().superRefine((value, ctx) => {
    for (const issue of schema.safeParse(value).error?.issues ?? []) {
      ctx.addIssue({ code: "custom", message: issue.message });
    }
  });
}

const bindingUsername = asSent(
  username.refine(
    (value) => value.length + CONFORMANCE_USERNAME_PREFIX.length <= 64,
    `must be at most ${64 - CONFORMANCE_USERNAME_PREFIX.length} characters`,
  ),
);

/** AuthenticatorSelectionCriteria; unknown members are kept, because the options echo it verbatim. */
const authenticatorSelection = z.looseObject({
  authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
  residentKey: z.enum(["discouraged", "preferred", "required"]).optional(),
  requireResidentKey: z.boolean().optional(),
  userVerification: userVerification.optional(),
});

/** Client extension inputs are opaque to the server: echoed, never interpreted. */
const extensions = z
  .record(z.string().min(1).max(64), z.json())
  .refine((value) => Object.keys(value).length <= 16, "at most 16 extensions");

export const creationOptionsRequest = z.object({
  username: bindingUsername,
  displayName: asSent(displayName),
  authenticatorSelection: authenticatorSelection.optional(),
  attestation: z.enum(["none", "indirect", "direct", "enterprise"]).optional(),
  extensions: extensions.optional(),
});

export const getOptionsRequest = z.object({
  username: bindingUsername,
  userVerification: userVerification.optional(),
  extensions: extensions.optional(),
});

/** CollectedClientData as the binding accepts it; type, challenge and origin values are checked by the ceremony. */
const collectedClientData = z.looseObject({
  type: z.string().min(1),
  challenge: base64url(128),
  origin: z.string().min(1),
  crossOrigin: z.boolean().optional(),
  // TokenBinding: `id` (the Token Binding ID, base64url) must be there when the status is "present".
  tokenBinding: z
    .strictObject({
      status: z.enum(["present", "supported", "not-supported"]),
      id: base64url(1024).optional(),
    })
    .refine((binding) => binding.status !== "present" || binding.id !== undefined, {
      message: 'a tokenBinding with status "present" must carry its id',
      path: ["id"],
    })
    .optional(),
});

const clientDataJSON = base64url(4096).superRefine((value, ctx) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64URL(value)));
  } catch {
    ctx.addIssue({ code: "custom", message: "must be base64url of UTF-8 JSON" });
    return;
  }
  const result = collectedClientData.safeParse(parsed);
  for (const issue of result.error?.issues ?? []) {
    ctx.addIssue({ code: "custom", message: `${issue.path.join(".") || "(root)"}: ${issue.message}` });
  }
});

const credentialId = base64url(1364);
const extensionResults = z.record(z.string(), z.unknown());

/** Common to both result bodies: `rawId` is optional here (old tools omit it) but must equal `id` when sent. */
function serverPublicKeyCredential<R extends z.ZodType>(response: R) {
  return z
    .object({
      id: credentialId,
      rawId: credentialId.optional(),
      type: z.literal("public-key"),
      response,
      getClientExtensionResults: extensionResults.optional(),
      clientExtensionResults: extensionResults.optional(),
      authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
    })
    .refine((credential) => credential.rawId === undefined || credential.rawId === credential.id, {
      message: "must equal id",
      path: ["rawId"],
    });
}

export const attestationResultRequest = serverPublicKeyCredential(
  z.object({
    clientDataJSON,
    attestationObject: base64url(32_768),
    transports: z
      .array(z.string().regex(/^[a-z-]{1,32}$/))
      .max(8)
      .optional(),
  }),
);

export const assertionResultRequest = serverPublicKeyCredential(
  z.object({
    clientDataJSON,
    authenticatorData: base64url(16_384),
    signature: base64url(2048),
    // Optional (the 2025 binding text); an empty string or null means "not returned".
    // User handles are at most 64 bytes (86 base64url characters).
    userHandle: z
      .union([z.null(), z.literal(""), base64url(86)])
      .optional()
      .transform((value) => value || undefined),
  }),
);

/**
 * A binding ServerPublicKeyCredential as the WebAuthn JSON the ceremonies take: `rawId` may be
 * left out (it is `id`), and extension results come as `getClientExtensionResults`.
 */
export function asResponseJSON<T extends { id: string }>(
  credential: T & { rawId?: string; getClientExtensionResults?: object; clientExtensionResults?: object },
) {
  const { getClientExtensionResults, clientExtensionResults, rawId, ...rest } = credential;
  return {
    ...rest,
    rawId: rawId ?? credential.id,
    clientExtensionResults: getClientExtensionResults ?? clientExtensionResults ?? {},
  };
}
