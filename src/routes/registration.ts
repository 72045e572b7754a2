import { Hono } from "hono";
import { z } from "zod";
import { requireRecentVerification } from "../accounts/step-up";
import { auditedAttempt } from "../ceremonies/attempt-audit";
import { nativePolicy } from "../ceremonies/policy";
import { startRegistration } from "../ceremonies/registration-options";
import { finishRegistration } from "../ceremonies/registration-verification";
import { normalizeUsername } from "../ceremonies/username";
import { apiDocs } from "../http/api-docs";
import type { AppEnv } from "../http/app-env";
import { optionalAccount } from "../http/bearer-session";
import { ok } from "../http/envelope";
import { displayName, registrationResponse, username, userVerification } from "../http/request-schemas";
import { validJson } from "../http/validate";
import { jsonBody } from "../middleware/json-body";
import { rateLimit } from "../middleware/rate-limit";

const challengeRequest = z.strictObject({
  username,
  displayName: displayName.optional(),
  userVerification: userVerification.optional(),
  attestation: z.enum(["none", "direct", "enterprise"]).optional(),
  authenticatorSelection: z
    .strictObject({
      authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
      residentKey: z.enum(["discouraged", "preferred", "required"]).optional(),
      requireResidentKey: z.boolean().optional(),
      userVerification: userVerification.optional(),
    })
    .optional(),
  extensions: z
    .strictObject({
      credProps: z.boolean().optional(),
      minPinLength: z.boolean().optional(),
      credentialProtectionPolicy: z.string().max(64).optional(),
      enforceCredentialProtectionPolicy: z.boolean().optional(),
    })
    .optional(),
  mediation: z.literal("conditional").optional(),
});

const verifyRequest = z.strictObject({ credential: registrationResponse });

export const registrationRoutes = new Hono<AppEnv>()
  .post(
    "/challenge",
    apiDocs.registration.challenge,
    rateLimit("options", { alongside: true }),
    jsonBody(),
    validJson(challengeRequest),
    async (c) => {
      const body = c.req.valid("json");
      const account = await optionalAccount(c);
      const ports = c.get("ports");
      // Adding a passkey to one's own account is a change of the account: step-up first.
      if (account && account.user.username === normalizeUsername(body.username)) {
        requireRecentVerification(account.session, ports.config, ports.now());
      }
      const { authenticatorSelection, ...rest } = body;
      const options = await startRegistration(
        {
          ...rest,
          userVerification: body.userVerification ?? authenticatorSelection?.userVerification,
          authenticatorSelection,
          account,
        },
        ports,
        nativePolicy,
      );
      return ok(c, options);
    },
  )
  .post(
    "/verify",
    apiDocs.registration.verify,
    rateLimit("verify", { alongside: true }),
    jsonBody(),
    validJson(verifyRequest),
    async (c) => {
      const { credential } = c.req.valid("json");
      const registered = await auditedAttempt("registration_attempt", c.get("ports"), (ports) =>
        finishRegistration(credential, ports, nativePolicy),
      );
      return ok(c, registered, 201);
    },
  );
