import type { Hono } from "hono";
import { describeRoute, generateSpecs, resolver } from "hono-openapi";
import type { z } from "zod";
import { type ErrorCode, errorStatus } from "../errors";
import type { AppEnv } from "./app-env";
import { conformanceStatus, envelope, errorEnvelope } from "./response-schemas";

/**
 * The OpenAPI 3.1 document of the API, built from the app itself: hono-openapi walks
 * `app.routes`, reads the zod schema of each validator (src/http/validate.ts) for the request,
 * and the `documented(...)` annotation on the route (src/http/api-docs.ts) for its responses.
 * Served at /api/v1/openapi.json; test/openapi.test.ts proves every route is in it.
 */

export const tags = {
  registration: "Registration",
  authentication: "Authentication",
  credentials: "Passkeys (self-service)",
  account: "Account (self-service)",
  admin: "Admin",
  metadata: "Admin: FIDO metadata",
  operations: "Operations",
  conformance: "FIDO conformance (test surface)",
} as const;

type Tag = (typeof tags)[keyof typeof tags];

const tagDescriptions: Record<Tag, string> = {
  [tags.registration]: "Create an account with a passkey, or add a passkey to the signed-in account.",
  [tags.authentication]: "Sign in with a passkey; both steps answer a session token on success.",
  [tags.credentials]: "The signed-in user's passkeys (Authorization: Bearer <session token>).",
  [tags.account]: "The signed-in user's account.",
  [tags.admin]: "Operator endpoints (Authorization: Bearer <ADMIN_API_KEY>).",
  [tags.metadata]: "FIDO MDS3 metadata loaded by an operator (docs/conformance.md).",
  [tags.operations]: "Health, keys, discovery documents and this reference.",
  [tags.conformance]:
    "The FIDO Alliance server transport binding the FIDO conformance tools drive. A test surface: " +
    'these paths exist only when CONFORMANCE_API = "true", never in production (docs/conformance.md). ' +
    "Failures answer the binding's own {status: 'failed', errorMessage} shape.",
};

/** Who may call a route: the security requirement the document states for it. */
type Access = "public" | "session" | "optional-session" | "admin";

const securityOf: Record<Access, Record<string, string[]>[] | undefined> = {
  public: [],
  session: [{ sessionToken: [] }],
  // Without a token: a new account; with one: a passkey added to the signed-in account.
  "optional-session": [{}, { sessionToken: [] }],
  admin: [{ adminKey: [] }],
};

const accessErrors: Record<Access, ErrorCode[]> = {
  public: [],
  session: ["UNAUTHORIZED"],
  "optional-session": ["UNAUTHORIZED"],
  admin: ["UNAUTHORIZED"],
};

/** What any route can answer: the rate limit (src/middleware/rate-limit.ts) and server faults. */
const everyRouteErrors: ErrorCode[] = [
  "RATE_LIMIT_EXCEEDED",
  "INTERNAL_ERROR",
  "CONFIGURATION_ERROR",
  "SERVICE_UNAVAILABLE",
];

/** What a route with a JSON body can answer before its handler runs (src/middleware/json-body.ts, validate.ts). */
export const bodyErrors: ErrorCode[] = [
  "VALIDATION_ERROR",
  "INVALID_REQUEST",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
];

const json = (schema: z.ZodType) => ({ "application/json": { schema: resolver(schema) } });

/** One response per HTTP status, listing the codes that share it; `code` is narrowed to them. */
function errorResponses(codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = errorStatus[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      String(status),
      { description: list.join(", "), content: json(errorEnvelope(list)) },
    ]),
  );
}

type RouteDocs = {
  operationId: string;
  tag: Tag;
  summary: string;
  description?: string;
  access?: Access;
  /** The success answer: `data` inside the envelope, or `bare` for documents in a standard shape. */
  success: { status?: 200 | 201; description: string } & (
    | { data: z.ZodType }
    | { bare: z.ZodType }
    | { text: "text/html" | "text/plain" }
  );
  /** The route's own error codes; access, body and every-route errors are added. */
  errors?: ErrorCode[];
};

/** The annotation a route carries for the document: a no-op middleware holding its description. */
export function documented(docs: RouteDocs) {
  const access = docs.access ?? "public";
  const success = docs.success;
  const content =
    "text" in success
      ? { [success.text]: { schema: { type: "string" as const } } }
      : json("data" in success ? envelope(success.data) : success.bare);
  return describeRoute({
    operationId: docs.operationId,
    tags: [docs.tag],
    summary: docs.summary,
    ...(docs.description === undefined ? {} : { description: docs.description }),
    security: securityOf[access],
    responses: {
      [String(success.status ?? 200)]: { description: success.description, content },
      ...errorResponses([...(docs.errors ?? []), ...accessErrors[access], ...everyRouteErrors]),
    },
  });
}

/** The conformance binding's routes: its own success and failure shape (src/conformance/surface.ts). */
export function documentedConformance(docs: { operationId: string; summary: string; success?: z.ZodType }) {
  return describeRoute({
    operationId: docs.operationId,
    tags: [tags.conformance],
    summary: docs.summary,
    security: [],
    responses: {
      "200": { description: "ServerResponse: status ok", content: json(docs.success ?? conformanceStatus) },
      "4XX": { description: "status failed, with the check that failed", content: json(conformanceStatus) },
      "5XX": { description: "status failed", content: json(conformanceStatus) },
    },
  });
}

const documentation = {
  info: {
    title: "Edge Passkey Server API",
    version: "1",
    description:
      "A FIDO2/WebAuthn relying party. Every /api/v1 answer is an envelope: " +
      '{"status":"ok","data":…,"timestamp":…} or {"status":"error","error":{"code","message","details?"},"timestamp":…}. ' +
      "Error codes and their HTTP statuses are listed per operation.",
    license: { name: "MIT", identifier: "MIT" },
  },
  tags: Object.entries(tagDescriptions).map(([name, description]) => ({ name, description })),
  components: {
    securitySchemes: {
      sessionToken: {
        type: "http" as const,
        scheme: "bearer",
        bearerFormat: "JWT",
        description:
          "The session token from /registration/verify or /authentication/verify (ES256, keys at /.well-known/jwks.json).",
      },
      adminKey: { type: "http" as const, scheme: "bearer", description: "ADMIN_API_KEY (a secret of the Worker)." },
    },
  },
};

/** The document for `app`, built once per isolate on first request (the routes never change). */
export function openApiDocument(app: Hono<AppEnv>) {
  let document: Promise<unknown> | undefined;
  return () => {
    document ??= generateSpecs(app, {
      documentation,
      // Our own defaults describe every 400, and /openapi.json and /jwks.json are routes, not files.
      defaultValidationErrorResponse: false,
      excludeStaticFile: false,
    });
    return document;
  };
}
