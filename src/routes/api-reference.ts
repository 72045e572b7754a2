import { Hono } from "hono";
import { AppError } from "../errors";
import { apiDocs } from "../http/api-docs";
import type { AppEnv } from "../http/app-env";
import { openApiDocument } from "../http/openapi";
import { rateLimit } from "../middleware/rate-limit";

/** Where scripts/build-demo.mjs puts Scalar's standalone bundle (several MB: a static asset, not in the Worker). */
export const API_REFERENCE_SCRIPT = "/api-reference/scalar.js";

/**
 * Scalar's configuration: everything from this origin. No fonts service, no usage reports, no
 * developer toolbar, no AI agent (it searches Scalar's registry through their proxy).
 */
const scalarConfiguration = {
  withDefaultFonts: false,
  telemetry: false,
  showDeveloperTools: "never",
  agent: { disabled: true },
};

const attribute = (value: string) => value.replaceAll("&", "&amp;").replaceAll('"', "&quot;");

// No inline script or style: Scalar's bundle finds #api-reference and reads the document URL
// and its configuration from the element's data attributes.
const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Edge Passkey Server API reference</title>
    <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
  </head>
  <body>
    <div id="api-reference" data-url="/api/v1/openapi.json" data-configuration="${attribute(JSON.stringify(scalarConfiguration))}"></div>
    <script src="${API_REFERENCE_SCRIPT}"></script>
  </body>
</html>
`;

/**
 * Exactly what the reference page needs: its own scripts, the document from this origin (and
 * "Try it" requests to it), the inline styles Scalar's components set, and data: images and
 * fonts it embeds. Nothing from another origin: no CDN, no fonts service, no telemetry.
 */
export const apiReferencePolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The OpenAPI document of `app` (always served: generated clients fetch it) and the reference
 * page that renders it (only when API_DOCS is "true"; 404 otherwise, like any unknown path).
 */
export function apiReferenceRoutes(app: Hono<AppEnv>) {
  const document = openApiDocument(app);
  return new Hono<AppEnv>()
    .get("/openapi.json", apiDocs.openApiDocument, rateLimit("api"), async (c) => {
      c.header("Cache-Control", "public, max-age=300");
      return c.json(await document());
    })
    .get("/docs", apiDocs.apiReference, rateLimit("api"), (c) => {
      if (!c.get("config").apiDocs) throw new AppError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`);
      // The security headers middleware keeps a policy a route set for its page.
      c.header("Content-Security-Policy", apiReferencePolicy);
      return c.html(page);
    });
}
