import { Hono } from "hono";
import { z } from "zod";
import { auditedAttempt } from "../ceremonies/attempt-audit";
import { startAuthentication } from "../ceremonies/authentication-options";
import { finishAuthentication } from "../ceremonies/authentication-verification";
import { nativePolicy } from "../ceremonies/policy";
import { apiDocs } from "../http/api-docs";
import type { AppEnv } from "../http/app-env";
import { ok } from "../http/envelope";
import { authenticationResponse, username, userVerification } from "../http/request-schemas";
import { validJson } from "../http/validate";
import { jsonBody } from "../middleware/json-body";
import { rateLimit } from "../middleware/rate-limit";

const challengeRequest = z.strictObject({
  username: username.optional(),
  userVerification: userVerification.optional(),
});

const verifyRequest = z.strictObject({ credential: authenticationResponse });

export const authenticationRoutes = new Hono<AppEnv>()
  .post(
    "/challenge",
    apiDocs.authentication.challenge,
    rateLimit("options", { alongside: true }),
    jsonBody(),
    validJson(challengeRequest),
    async (c) => {
      return ok(c, await startAuthentication(c.req.valid("json"), c.get("ports"), nativePolicy));
    },
  )
  .post(
    "/verify",
    apiDocs.authentication.verify,
    rateLimit("verify", { alongside: true }),
    jsonBody(),
    validJson(verifyRequest),
    async (c) => {
      const { credential } = c.req.valid("json");
      const authenticated = await auditedAttempt("authentication_attempt", c.get("ports"), (ports) =>
        finishAuthentication(credential, ports, nativePolicy),
      );
      return ok(c, authenticated);
    },
  );
