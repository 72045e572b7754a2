import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { conformanceSurface } from "./conformance/surface";
import { noRoute } from "./errors";
import type { AppEnv } from "./http/app-env";
import { signedIn } from "./http/bearer-session";
import { handleError } from "./http/error-handler";
import { adminAuth } from "./middleware/admin-auth";
import { allowedMethods } from "./middleware/allowed-methods";
import { configuration } from "./middleware/configuration";
import { corsPolicy } from "./middleware/cors";
import { deferredWork } from "./middleware/deferred-work";
import { jsonBody } from "./middleware/json-body";
import { limitUnknownPath, rateLimit } from "./middleware/rate-limit";
import { requestLog } from "./middleware/request-log";
import { requestMetrics } from "./middleware/request-metrics";
import { securityHeaders } from "./middleware/security-headers";
import { services } from "./middleware/services";
import { accountRoutes } from "./routes/account";
import { adminCredentialRoutes, adminUserRoutes } from "./routes/admin";
import { apiReferenceRoutes } from "./routes/api-reference";
import { authenticationRoutes } from "./routes/authentication";
import { conformanceRoutes } from "./routes/conformance";
import { credentialRoutes } from "./routes/credentials";
import { healthRoutes } from "./routes/health";
import { metadataRoutes } from "./routes/metadata";
import { metricsRoutes } from "./routes/metrics";
import { registrationRoutes } from "./routes/registration";
import { sessionRoutes } from "./routes/session";
import { wellKnownRoutes } from "./routes/well-known";

export const app = new Hono<AppEnv>();

// Always our own id: a caller's could repeat another request's and muddle the audit trail.
// (limitLength 0 makes Hono's middleware replace any incoming id; the request log keeps a
// well-formed caller id as clientRequestId for correlation.)
app.use(requestId({ limitLength: 0 }));
app.use(requestLog);
// Before configuration, so even a CONFIGURATION_ERROR answer carries the security headers.
app.use(securityHeaders);
app.use(configuration);
app.use(requestMetrics);
app.use(deferredWork);
app.use("/api/*", corsPolicy);
// FIDO conformance binding: gated by CONFORMANCE_API, and answers every failure on its paths
// (including the rate limit's and body checks' below) in the binding's own shape.
app.use("/attestation/*", conformanceSurface);
app.use("/assertion/*", conformanceSurface);
// A known path with a wrong method: 405 with Allow, before a body or session check answers 415/401.
app.use(allowedMethods(() => app.routes));
// The storage, keys and log every route uses (src/services.ts); nothing here does I/O.
app.use(services);

// Rate limits (src/middleware/rate-limit.ts) and bodies (src/middleware/json-body.ts) are
// declared where they belong: at the ceremonies' routes, or where a group of routes is mounted.
// No limit on the health check and /.well-known. A limit comes after CORS (a browser must read
// a 429) and before any body is read, any session or admin key is checked, or any work is done.
// One chain, so its type is the API's route table: `AppType`, which the typed client in demo/src/api.ts uses.
const routes = app
  .route("/api/v1/health", healthRoutes)
  // The OpenAPI document of every route below (built from the app itself) and its reference page.
  .route("/api/v1", apiReferenceRoutes(app))
  .route("/api/v1/registration", registrationRoutes)
  .route("/api/v1/authentication", authenticationRoutes)
  .route("/.well-known", wellKnownRoutes)
  // The admin API (docs/api-management.md): one gate for everything under /api/v1/admin, so a
  // route added there later is an operator's route by default. The key is checked before any
  // body is read: a metadata load may send megabytes (src/routes/metadata.ts).
  .use("/api/v1/admin/*", rateLimit("api"), adminAuth)
  .route("/api/v1/admin/metadata", metadataRoutes)
  .use("/api/v1/admin/users/*", jsonBody())
  .route("/api/v1/admin/users", adminUserRoutes)
  .use("/api/v1/admin/credentials/*", jsonBody())
  .route("/api/v1/admin/credentials", adminCredentialRoutes)
  .route("/api/v1/admin/metrics", metricsRoutes)
  // Self-service with the session token (docs/api-management.md). The reads ask for the
  // limiter's verdict alongside the session's storage read; they write nothing. A body is
  // looked at (415, 413) before the session.
  .use("/api/v1/credentials/*", rateLimit("api", { alongside: ["GET"] }), jsonBody(), signedIn)
  .route("/api/v1/credentials", credentialRoutes)
  .use("/api/v1/me/*", rateLimit("api", { alongside: ["GET"] }), jsonBody(), signedIn)
  .route("/api/v1/me", accountRoutes)
  .use("/api/v1/session", rateLimit("api"), jsonBody(), signedIn)
  .route("/api/v1/session", sessionRoutes)
  .route("/", conformanceRoutes);

/** The API for Hono's typed client, `hc<AppType>` (docs/api.md). */
export type AppType = typeof routes;

app.notFound(async (c) => {
  // A path no route answers counts in the API's budget, like the route it might have been
  // (under /.well-known, never limited, it does not).
  if (!c.req.path.startsWith("/.well-known/")) await limitUnknownPath(c);
  return handleError(noRoute(c.req.method, c.req.path), c);
});
app.onError(handleError);
