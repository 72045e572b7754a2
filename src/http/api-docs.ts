import { bodyErrors, documented, documentedConformance, tags } from "./openapi";
import * as responses from "./response-schemas";

/**
 * Each route's entry in the OpenAPI document (src/http/openapi.ts): what it answers and the
 * error codes it can answer, besides those of its access, its body and every route. The route
 * carries its entry as its first middleware; its request comes from its validators.
 */
export const apiDocs = {
  health: documented({
    operationId: "health",
    tag: tags.operations,
    summary: "Liveness of D1 and the ChallengeStore Durable Object",
    success: { description: "Healthy", data: responses.health },
    errors: ["SERVICE_UNAVAILABLE"],
  }),
  openApiDocument: documented({
    operationId: "openApiDocument",
    tag: tags.operations,
    summary: "This OpenAPI 3.1 document",
    success: { description: "The document", bare: responses.openApiDocument },
  }),
  apiReference: documented({
    operationId: "apiReference",
    tag: tags.operations,
    summary: "The API reference page (HTML), when API_DOCS is on",
    success: { description: "An HTML page", text: "text/html" },
    errors: ["NOT_FOUND"],
  }),
  jwks: documented({
    operationId: "sessionKeys",
    tag: tags.operations,
    summary: "The session tokens' public keys (JWKS, not enveloped)",
    success: { description: "JSON Web Key Set", bare: responses.jwks },
  }),
  relatedOrigins: documented({
    operationId: "relatedOrigins",
    tag: tags.operations,
    summary: "WebAuthn related origins (not enveloped); 404 when every origin is within the RP ID",
    success: { description: "The related origins document", bare: responses.relatedOrigins },
    errors: ["NOT_FOUND"],
  }),

  registration: {
    challenge: documented({
      operationId: "startRegistration",
      tag: tags.registration,
      summary: "Registration options for navigator.credentials.create()",
      description: "With a session token, the new passkey is added to the signed-in account instead.",
      access: "optional-session",
      success: { description: "Creation options", data: responses.registrationOptions },
      errors: [...bodyErrors, "USERNAME_TAKEN", "TOO_MANY_CREDENTIALS", "REAUTHENTICATION_REQUIRED"],
    }),
    verify: documented({
      operationId: "finishRegistration",
      tag: tags.registration,
      summary: "Verify the new credential; answers a session token",
      success: { status: 201, description: "Passkey stored", data: responses.registeredCredential },
      errors: [...bodyErrors, "INVALID_CHALLENGE", "REGISTRATION_FAILED", "CREDENTIAL_EXISTS", "USERNAME_TAKEN"],
    }),
  },

  authentication: {
    challenge: documented({
      operationId: "startAuthentication",
      tag: tags.authentication,
      summary: "Authentication options for navigator.credentials.get() (no username: discoverable)",
      success: { description: "Request options", data: responses.authenticationOptions },
      errors: [...bodyErrors],
    }),
    verify: documented({
      operationId: "finishAuthentication",
      tag: tags.authentication,
      summary: "Verify the assertion; answers a session token",
      success: { description: "Signed in", data: responses.authenticatedUser },
      errors: [...bodyErrors, "INVALID_CHALLENGE", "AUTHENTICATION_FAILED"],
    }),
  },

  credentials: {
    list: documented({
      operationId: "listPasskeys",
      tag: tags.credentials,
      summary: "The signed-in user's passkeys",
      access: "session",
      success: { description: "Passkeys", data: responses.passkeyList },
    }),
    rename: documented({
      operationId: "renamePasskey",
      tag: tags.credentials,
      summary: "Rename a passkey",
      access: "session",
      success: { description: "The renamed passkey", data: responses.passkey },
      errors: [...bodyErrors, "CREDENTIAL_NOT_FOUND"],
    }),
    remove: documented({
      operationId: "removePasskey",
      tag: tags.credentials,
      summary: "Remove a passkey (not the last active one unless ?force=true)",
      access: "session",
      success: { description: "Removed, with Signal API calls for the browser", data: responses.passkeyRemoval },
      errors: ["VALIDATION_ERROR", "CREDENTIAL_NOT_FOUND", "LAST_PASSKEY", "REAUTHENTICATION_REQUIRED"],
    }),
  },

  account: {
    describe: documented({
      operationId: "describeAccount",
      tag: tags.account,
      summary: "The signed-in account, its session and Signal API calls",
      access: "session",
      success: { description: "The account", data: responses.accountView },
    }),
    remove: documented({
      operationId: "deleteAccount",
      tag: tags.account,
      summary: "Delete the signed-in account and all its passkeys",
      access: "session",
      success: { description: "Deleted, with Signal API calls for the browser", data: responses.accountDeletion },
      errors: ["REAUTHENTICATION_REQUIRED"],
    }),
  },

  session: {
    end: documented({
      operationId: "signOut",
      tag: tags.account,
      summary: "Sign out: this session's token is refused from now on",
      description:
        "An app backend that verifies tokens offline (JWKS) accepts the token until its exp; see docs/security.md.",
      access: "session",
      success: { description: "Signed out", data: responses.signOut },
    }),
  },

  admin: {
    listUsers: documented({
      operationId: "adminListUsers",
      tag: tags.admin,
      summary: "List users, a page at a time",
      access: "admin",
      success: { description: "A page of users", data: responses.userListing },
      errors: ["VALIDATION_ERROR"],
    }),
    getUser: documented({
      operationId: "adminGetUser",
      tag: tags.admin,
      summary: "A user and their passkeys",
      access: "admin",
      success: { description: "The user", data: responses.userDetail },
      errors: ["VALIDATION_ERROR", "USER_NOT_FOUND"],
    }),
    setUserActive: documented({
      operationId: "adminSetUserActive",
      tag: tags.admin,
      summary: "Disable or enable a user",
      access: "admin",
      success: { description: "The user", data: responses.userUpdate },
      errors: [...bodyErrors, "USER_NOT_FOUND"],
    }),
    deleteUser: documented({
      operationId: "adminDeleteUser",
      tag: tags.admin,
      summary: "Delete a user and their passkeys",
      access: "admin",
      success: { description: "Deleted", data: responses.userDeletion },
      errors: ["VALIDATION_ERROR", "USER_NOT_FOUND"],
    }),
    setCredentialActive: documented({
      operationId: "adminSetPasskeyActive",
      tag: tags.admin,
      summary: "Disable or enable a passkey",
      access: "admin",
      success: { description: "The passkey", data: responses.passkey },
      errors: [...bodyErrors, "CREDENTIAL_NOT_FOUND"],
    }),
    removeCredential: documented({
      operationId: "adminRemovePasskey",
      tag: tags.admin,
      summary: "Remove a passkey",
      access: "admin",
      success: { description: "Removed", data: responses.credentialDeletion },
      errors: ["VALIDATION_ERROR", "CREDENTIAL_NOT_FOUND"],
    }),
  },

  metrics: documented({
    operationId: "adminMetrics",
    tag: tags.admin,
    summary: "Prometheus metrics (text exposition format) from the Analytics Engine dataset",
    description:
      "Computed through the Analytics Engine SQL API over the last METRICS_WINDOW_SECONDS (or ?window=). " +
      "503 names what to configure when the ANALYTICS binding or the CF_ACCOUNT_ID / ANALYTICS_API_TOKEN secrets are missing (docs/observability.md).",
    access: "admin",
    success: { description: "Prometheus text format 0.0.4", text: "text/plain" },
    errors: ["VALIDATION_ERROR", "SERVICE_UNAVAILABLE"],
  }),

  metadata: {
    list: documented({
      operationId: "adminListMetadata",
      tag: tags.metadata,
      summary: "Loaded metadata sources",
      access: "admin",
      success: { description: "Sources", data: responses.metadataSources },
    }),
    loadBlob: documented({
      operationId: "adminLoadMetadataBlob",
      tag: tags.metadata,
      summary: "Load a FIDO MDS3 BLOB (a signed JWT, up to 32 MiB)",
      access: "admin",
      success: { status: 201, description: "Loaded", data: responses.metadataLoad },
      errors: [...bodyErrors, "METADATA_REJECTED"],
    }),
    loadStatements: documented({
      operationId: "adminLoadMetadataStatements",
      tag: tags.metadata,
      summary: "Load loose metadata statements (for testing)",
      access: "admin",
      success: { status: 201, description: "Loaded", data: responses.metadataLoad },
      errors: [...bodyErrors, "METADATA_REJECTED"],
    }),
    remove: documented({
      operationId: "adminRemoveMetadataSource",
      tag: tags.metadata,
      summary: "Remove a metadata source",
      access: "admin",
      success: { description: "Removed", data: responses.metadataRemoval },
      errors: ["VALIDATION_ERROR", "NOT_FOUND"],
    }),
  },

  conformance: {
    attestationOptions: documentedConformance({
      operationId: "conformanceAttestationOptions",
      summary: "ServerPublicKeyCredentialCreationOptionsRequest",
      success: responses.conformanceStatus,
    }),
    attestationResult: documentedConformance({
      operationId: "conformanceAttestationResult",
      summary: "ServerAuthenticatorAttestationResponse",
    }),
    assertionOptions: documentedConformance({
      operationId: "conformanceAssertionOptions",
      summary: "ServerPublicKeyCredentialGetOptionsRequest",
      success: responses.conformanceStatus,
    }),
    assertionResult: documentedConformance({
      operationId: "conformanceAssertionResult",
      summary: "ServerAuthenticatorAssertionResponse",
    }),
  },
};
