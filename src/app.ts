import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { AppError } from "./errors";
import type { AppEnv } from "./http/app-env";
import { handleError } from "./http/error-handler";
import { ceremonyPorts } from "./middleware/ceremony-ports";
import { configuration } from "./middleware/configuration";
import { corsPolicy } from "./middleware/cors";
import { jsonBody } from "./middleware/json-body";
import { requestLog } from "./middleware/request-log";
import { securityHeaders } from "./middleware/security-headers";
import { authenticationRoutes } from "./routes/authentication";
import { healthRoutes } from "./routes/health";
import { registrationRoutes } from "./routes/registration";
import { wellKnownRoutes } from "./routes/well-known";

export const app = new Hono<AppEnv>();

app.use(requestId());
app.use(requestLog);
app.use(configuration);
app.use(securityHeaders);
app.use("/api/*", corsPolicy);
app.use(jsonBody);

app.route("/api/v1/health", healthRoutes);
app.use("/api/v1/registration/*", ceremonyPorts);
app.route("/api/v1/registration", registrationRoutes);
app.use("/api/v1/authentication/*", ceremonyPorts);
app.route("/api/v1/authentication", authenticationRoutes);
app.route("/.well-known", wellKnownRoutes);

app.notFound((c) => handleError(new AppError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`), c));
app.onError(handleError);
