import type { AuthenticationExtensionsClientInputs } from "@simplewebauthn/server";
import type { Context } from "hono";
import { Hono } from "hono";
import { auditedAttempt } from "../ceremonies/attempt-audit";
import { startAuthentication } from "../ceremonies/authentication-options";
import { finishAuthentication } from "../ceremonies/authentication-verification";
import { startRegistration } from "../ceremonies/registration-options";
import { finishRegistration } from "../ceremonies/registration-verification";
import { bindingAccountName } from "../conformance/accounts";
import { conformancePolicy as policy } from "../conformance/policy";
import {
  asResponseJSON,
  assertionResultRequest,
  attestationResultRequest,
  creationOptionsRequest,
  getOptionsRequest,
} from "../conformance/schemas";
import { apiDocs } from "../http/api-docs";
import type { AppEnv } from "../http/app-env";
import { validJson } from "../http/validate";
import { jsonBody } from "../middleware/json-body";
import { rateLimit } from "../middleware/rate-limit";

/** ServerResponse on success: the payload plus `status` and an empty `errorMessage`. */
const serverResponse = <T extends object>(c: Context<AppEnv>, payload: T) =>
  c.json({ status: "ok" as const, errorMessage: "", ...payload }, 200);

const docs = apiDocs.conformance;

/**
 * The FIDO Alliance "Server Requirements and Transport Binding Profile" API, which the FIDO
 * conformance tools drive: a thin adapter over the same ceremonies and storage as /api/v1,
 * under the binding's ceremony policy (src/conformance/policy.ts: its rules and why).
 * Gated by CONFORMANCE_API (src/conformance/surface.ts); see docs/conformance.md.
 */
export const conformanceRoutes = new Hono<AppEnv>()
  .post(
    "/attestation/options",
    docs.attestationOptions,
    rateLimit("options"),
    jsonBody(),
    validJson(creationOptionsRequest),
    async (c) => {
      const body = c.req.valid("json");
      const options = await startRegistration(
        {
          username: bindingAccountName(body.username),
          displayName: body.displayName,
          userVerification: body.authenticatorSelection?.userVerification,
          attestation: body.attestation,
          authenticatorSelection: body.authenticatorSelection,
          extensions: body.extensions as AuthenticationExtensionsClientInputs | undefined,
          account: null,
        },
        c.get("ports"),
        policy,
      );
      // user.name and user.displayName are echoed exactly as sent; the account is stored normalised.
      return serverResponse(c, {
        ...options,
        user: { ...options.user, name: body.username, displayName: body.displayName },
      });
    },
  )
  .post(
    "/attestation/result",
    docs.attestationResult,
    rateLimit("verify"),
    jsonBody(),
    validJson(attestationResultRequest),
    async (c) => {
      const response = asResponseJSON(c.req.valid("json"));
      await auditedAttempt("registration_attempt", c.get("ports"), (ports) =>
        finishRegistration(response, ports, policy),
      );
      return serverResponse(c, {});
    },
  )
  .post(
    "/assertion/options",
    docs.assertionOptions,
    rateLimit("options"),
    jsonBody(),
    validJson(getOptionsRequest),
    async (c) => {
      const body = c.req.valid("json");
      const options = await startAuthentication(
        {
          username: bindingAccountName(body.username),
          userVerification: body.userVerification,
          extensions: body.extensions as AuthenticationExtensionsClientInputs | undefined,
        },
        c.get("ports"),
        policy,
      );
      return serverResponse(c, options);
    },
  )
  .post(
    "/assertion/result",
    docs.assertionResult,
    rateLimit("verify"),
    jsonBody(),
    validJson(assertionResultRequest),
    async (c) => {
      const response = asResponseJSON(c.req.valid("json"));
      await auditedAttempt("authentication_attempt", c.get("ports"), (ports) =>
        finishAuthentication(response, ports, policy),
      );
      return serverResponse(c, {});
    },
  );
