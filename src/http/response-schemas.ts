import { z } from "zod";
import type { AccountSummary, PasskeySummary } from "../accounts/passkey-summary";
import type { AccountDeletion, AccountView, PasskeyRemoval } from "../accounts/self-service";
import type { AuthenticatedUser } from "../ceremonies/authentication-verification";
import type { RegisteredCredential } from "../ceremonies/registration-verification";
import type { WebAuthnSignal } from "../ceremonies/webauthn-signals";
import { type ErrorCode, errorStatus } from "../errors";
import type { MetadataLoadResult, MetadataSourceSummary } from "../metadata/metadata-sources";

/**
 * What the API answers, as zod schemas: the OpenAPI document (src/http/openapi.ts) is built from
 * them, and the type checks at the end of this file fail when a route's data and its schema
 * part ways. Nothing validates responses at run time: these describe, the code produces.
 */

// ISO 8601 instants, stated as `format: date-time` (z.iso.datetime() would also write its long
// validation pattern into every schema of the document; nothing validates responses anyway).
const isoTime = z.string().meta({ format: "date-time" });
const timestamp = isoTime.meta({ description: "When the server answered (ISO 8601)" });

/** Success envelope: `{"status":"ok","data":…,"timestamp":…}` (src/http/envelope.ts). */
export const envelope = <T extends z.ZodType>(data: T) => z.object({ status: z.literal("ok"), data, timestamp });

const errorCodes = Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]];

/** Failure envelope with `code` narrowed to the given codes (all of src/errors.ts by default). */
export const errorEnvelope = (codes: readonly ErrorCode[] = errorCodes) =>
  z.object({
    status: z.literal("error"),
    error: z.object({
      code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      details: z.unknown().optional().describe("Present for some codes: the fields at fault, for VALIDATION_ERROR"),
    }),
    timestamp,
  });

const base64url = z.string().regex(/^[A-Za-z0-9_-]*$/);

export const webAuthnSignal = z
  .discriminatedUnion("method", [
    z.object({
      method: z.literal("signalUnknownCredential"),
      options: z.object({ rpId: z.string(), credentialId: base64url }),
    }),
    z.object({
      method: z.literal("signalAllAcceptedCredentials"),
      options: z.object({ rpId: z.string(), userId: base64url, allAcceptedCredentialIds: z.array(base64url) }),
    }),
    z.object({
      method: z.literal("signalCurrentUserDetails"),
      options: z.object({ rpId: z.string(), userId: base64url, name: z.string(), displayName: z.string() }),
    }),
  ])
  .describe("A WebAuthn Signal API call for the browser to make: PublicKeyCredential[method](options)")
  .meta({ id: "WebAuthnSignal" });

export const passkey = z
  .object({
    id: z.string().describe("Our id of the passkey: the :id of /api/v1/credentials/{id}"),
    credentialId: base64url.describe("The WebAuthn credential id"),
    name: z.string(),
    aaguid: z.string(),
    authenticator: z.object({ name: z.string().nullable(), icon: z.string().nullable() }),
    createdAt: isoTime,
    updatedAt: isoTime,
    lastUsedAt: isoTime.nullable(),
    transports: z.array(z.string()),
    deviceType: z.enum(["singleDevice", "multiDevice"]),
    backupEligible: z.boolean(),
    backedUp: z.boolean(),
    userVerified: z.boolean(),
    attestationFormat: z.string(),
    algorithm: z.number().int().describe("COSE algorithm identifier"),
    flag: z.enum(["clone_suspected", "backup_flag_regression"]).nullable(),
    flaggedAt: isoTime.nullable(),
    isActive: z.boolean(),
  })
  .meta({ id: "Passkey" });

export const account = z
  .object({
    id: base64url.describe("The WebAuthn user handle"),
    username: z.string(),
    displayName: z.string(),
    createdAt: isoTime,
    updatedAt: isoTime,
    isActive: z.boolean(),
  })
  .meta({ id: "Account" });

const sessionToken = {
  token: z.string().describe("Session token (ES256 JWT): send as Authorization: Bearer <token>"),
  tokenExpiresAt: isoTime,
};

export const registeredCredential = z
  .object({
    userId: base64url,
    username: z.string(),
    passkeyId: z.string(),
    credentialId: base64url,
    name: z.string(),
    aaguid: z.string(),
    algorithm: z.number().int(),
    attestationFormat: z.string(),
    deviceType: z.enum(["singleDevice", "multiDevice"]),
    backedUp: z.boolean(),
    userVerified: z.boolean(),
    transports: z.array(z.string()),
    createdAt: isoTime,
    ...sessionToken,
  })
  .meta({ id: "RegisteredCredential" });

export const authenticatedUser = z
  .object({
    userId: base64url,
    username: z.string(),
    passkeyId: z.string(),
    credentialId: base64url,
    signCount: z.number().int(),
    userVerified: z.boolean(),
    backedUp: z.boolean(),
    ...sessionToken,
  })
  .meta({ id: "AuthenticatedUser" });

const credentialDescriptor = z.object({
  id: base64url,
  type: z.literal("public-key"),
  transports: z.array(z.string()).optional(),
});

/** PublicKeyCredentialCreationOptionsJSON (WebAuthn Level 3): pass it to navigator.credentials.create. */
export const registrationOptions = z
  .looseObject({
    rp: z.object({ id: z.string().optional(), name: z.string() }),
    user: z.object({ id: base64url, name: z.string(), displayName: z.string() }),
    challenge: base64url,
    pubKeyCredParams: z.array(z.object({ type: z.literal("public-key"), alg: z.number().int() })),
    timeout: z.number().int().optional(),
    excludeCredentials: z.array(credentialDescriptor).optional(),
    authenticatorSelection: z.looseObject({}).optional(),
    hints: z.array(z.string()).optional(),
    attestation: z.string().optional(),
    extensions: z.looseObject({}).optional(),
  })
  .meta({ id: "PublicKeyCredentialCreationOptionsJSON" });

/** PublicKeyCredentialRequestOptionsJSON (WebAuthn Level 3): pass it to navigator.credentials.get. */
export const authenticationOptions = z
  .looseObject({
    challenge: base64url,
    timeout: z.number().int().optional(),
    rpId: z.string().optional(),
    allowCredentials: z.array(credentialDescriptor).optional(),
    userVerification: z.string().optional(),
    hints: z.array(z.string()).optional(),
    extensions: z.looseObject({}).optional(),
  })
  .meta({ id: "PublicKeyCredentialRequestOptionsJSON" });

export const accountView = z.object({
  user: account,
  session: z.object({ passkeyId: z.string(), userVerified: z.boolean(), expiresAt: isoTime }),
  passkeyCount: z.number().int(),
  signals: z.array(webAuthnSignal),
});

export const passkeyList = z.object({ credentials: z.array(passkey) });
export const passkeyRemoval = z.object({ removed: passkey, signals: z.array(webAuthnSignal) });
export const signOut = z.object({ signedOut: z.literal(true) });
export const accountDeletion = z.object({
  userId: base64url,
  deletedPasskeys: z.number().int(),
  signals: z.array(webAuthnSignal),
});

export const userListing = z.object({
  users: z.array(account.extend({ passkeyCount: z.number().int() })),
  nextCursor: z.string().nullable().describe("Pass as ?cursor= for the next page; null on the last"),
});
export const userDetail = z.object({ user: account, credentials: z.array(passkey) });
export const userUpdate = z.object({ user: account });
export const userDeletion = z.object({ userId: base64url, deletedPasskeys: z.number().int() });
export const credentialDeletion = z.object({ id: z.string(), userId: base64url });

export const metadataSource = z
  .object({
    source: z.string(),
    kind: z.enum(["blob", "statements"]),
    no: z.number().int().nullable().describe("The BLOB's serial number; null for statements"),
    nextUpdate: z.string().nullable(),
    entryCount: z.number().int(),
    loadedAt: isoTime,
    checkedAt: isoTime.nullable(),
  })
  .meta({ id: "MetadataSource" });
export const metadataSources = z.object({ sources: z.array(metadataSource) });
export const metadataLoad = metadataSource.extend({
  skipped: z.array(z.object({ position: z.number().int(), reason: z.string() })),
  skippedCount: z.number().int(),
});
export const metadataRemoval = z.object({ source: z.string() });

const healthCheck = z.object({ status: z.enum(["pass", "fail"]), error: z.string().optional() });
export const health = z.object({
  status: z.literal("healthy"),
  checks: z.object({ database: healthCheck, challengeStore: healthCheck }),
});

export const jwks = z
  .object({ keys: z.array(z.looseObject({ kty: z.string(), kid: z.string().optional() })) })
  .describe("JSON Web Key Set (RFC 7517) of the session tokens' signing keys");
export const relatedOrigins = z
  .object({ origins: z.array(z.string()) })
  .describe("WebAuthn related origin requests document");

export const openApiDocument = z
  .looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) })
  .describe("OpenAPI 3.1 document");

/** The FIDO conformance binding's own envelope (docs/conformance.md). */
export const conformanceStatus = z.looseObject({
  status: z.enum(["ok", "failed"]),
  errorMessage: z.string(),
});

// Type-level agreement of the schemas above with what the code returns: a field added to,
// renamed in or dropped from a route's data without its schema fails `npm run typecheck`.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Flat<T> = { [K in keyof T]: T[K] };
type Agrees<Schema extends z.ZodType, Data> = Equal<Flat<z.output<Schema>>, Flat<Data>>;
type Check<T extends true> = T;
export type ResponseSchemasAgreeWithCode = [
  Check<Agrees<typeof passkey, PasskeySummary>>,
  Check<Agrees<typeof account, AccountSummary>>,
  Check<Agrees<typeof webAuthnSignal, WebAuthnSignal>>,
  Check<Agrees<typeof registeredCredential, RegisteredCredential>>,
  Check<Agrees<typeof authenticatedUser, AuthenticatedUser>>,
  Check<Agrees<typeof accountView, AccountView>>,
  Check<Agrees<typeof passkeyRemoval, PasskeyRemoval>>,
  Check<Agrees<typeof accountDeletion, AccountDeletion>>,
  Check<Agrees<typeof metadataSource, MetadataSourceSummary>>,
  Check<Agrees<typeof metadataLoad, MetadataLoadResult>>,
];
