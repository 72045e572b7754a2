import type { AuthenticationExtensionsClientInputs } from "@simplewebauthn/server";
import type { Context } from "hono";
import { Hono } from "hono";
import { auditedAttempt } from "../ceremonies/attempt-audit";
import { startAuthentication } from "../ceremonies/authentication-options";
import { finishAuthentication } from "../ceremonies/authentication-verification";
import { startRegistration } from "../ceremonies/registration-options";
import { finishRegistration } from "../ceremonies/registration-verification";
import { normalizeUsername } from "../ceremonies/username";
import { apiDocs } from "../http/api-docs";
import type { AppEnv } from "../http/app-env";
import {
  assertionResultRequest,
  attestationResultRequest,
  CONFORMANCE_USERNAME_PREFIX,
  creationOptionsRequest,
  getOptionsRequest,
} from "../http/conformance-schemas";
import { validJson } from "../http/validate";
import { jsonBody } from "../middleware/json-body";
import { rateLimit } from "../middleware/rate-limit";

/**
 * The FIDO Alliance "Server Requirements and Transport Binding Profile" API, which the FIDO
 * conformance tools drive: a thin adapter over the same ceremonies and storage as /api/v1,
 * with the binding's profile ("fido-conformance") switching on the rules that differ.
 * Gated by CONFORMANCE_API (src/middleware/conformance-surface.ts); see docs/conformance.md.
 *
 * Binding accounts are stored under CONFORMANCE_USERNAME_PREFIX, so the binding can add
 * passkeys only to its own test accounts, never to an account of the native API.
 */
const profile = "fido-conformance" as const;
/** The stored account of a binding username, normalised as the native API stores names. */
const accountName = (username: string) => `${CONFORMANCE_USERNAME_PREFIX}${normalizeUsername(username)}`;

/**
 * A binding ServerPublicKeyCredential as the WebAuthn JSON the ceremonies take: `rawId` may be
 * left out (it is `id`), and extension results come as `getClientExtensionResults`.
 */
function asResponseJSON<T extends { id: string }>(
  credential: T & { rawId?: string; getClientExtensionResults?: object; clientExtensionResults?: object },
) {
  const { getClientExtensionResults, clientExtensionResults, rawId, ...rest } = credential;
  return {
    ...rest,
    rawId: rawId ?? credential.id,
    clientExtensionResults: getClientExtensionResults ?? clientExtensionResults ?? {},
  };
}

/** ServerResponse on success: the payload plus `status` and an empty `errorMessage`. */
const serverResponse = <T extends object>(c: Context<AppEnv>, payload: T) =>
  c.json({ status: "ok" as const, errorMessage: "", ...payload }, 200);

const docs = apiDocs.conformance;

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
          username: accountName(body.username),
          displayName: body.displayName,
          userVerification: body.authenticatorSelection?.userVerification,
          attestation: body.attestation,
          authenticatorSelection: body.authenticatorSelection,
          extensions: body.extensions as AuthenticationExtensionsClientInputs | undefined,
          account: null,
          profile,
        },
        c.get("ports"),
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
        finishRegistration(response, ports, { profile }),
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
          username: accountName(body.username),
          userVerification: body.userVerification,
          extensions: body.extensions as AuthenticationExtensionsClientInputs | undefined,
          profile,
        },
        c.get("ports"),
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
        finishAuthentication(response, ports, { profile }),
      );
      return serverResponse(c, {});
    },
  );
