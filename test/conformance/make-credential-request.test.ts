import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { describe, expect, it } from "vitest";
import { api, uniqueUsername } from "../support/api";
import { type BindingResponse, bindingClient, expectFailed } from "./binding-client";

// Server-ServerPublicKeyCredentialCreationOptions-Req-1 ("MakeCredential Request"), from the
// public catalogue in docs/conformance.md, plus the binding's gate and forbidden fields.
const binding = bindingClient();
const unpaddedBase64URL = /^[A-Za-z0-9_-]+$/;

const toolRequest = (username = uniqueUsername("fido")) => ({
  username,
  displayName: "John Doe",
  authenticatorSelection: { requireResidentKey: false, userVerification: "preferred" },
  attestation: "direct",
  extensions: { "example.extension": true },
});

describe("Server-ServerPublicKeyCredentialCreationOptions-Req-1", () => {
  it("P-1: answers with status, user, rp, challenge, pubKeyCredParams and echoes attestation, authenticatorSelection and extensions", async () => {
    const request = toolRequest();
    const { status, body } = await binding.creationOptions(request);
    expect(status).toBe(200);
    expect(body.status).toBe("ok");
    expect(body.errorMessage).toBe("");
    expect(body.user.name).toBe(request.username);
    expect(body.user.displayName).toBe(request.displayName);
    expect(body.user.id).toMatch(unpaddedBase64URL);
    const userId = isoBase64URL.toBuffer(body.user.id);
    expect(userId.length).toBeGreaterThan(0);
    expect(userId.length).toBeLessThanOrEqual(64);
    expect(body.rp).toEqual({ name: "Edge Passkey Server", id: "localhost" });
    expect(body.challenge).toMatch(unpaddedBase64URL);
    expect(body.timeout).toBeGreaterThan(0);
    expect(body.attestation).toBe("direct");
    expect(body.authenticatorSelection).toEqual(request.authenticatorSelection);
    // Exactly what was asked for: SimpleWebAuthn's credProps is not added.
    expect(body.extensions).toEqual(request.extensions);
    for (const param of body.pubKeyCredParams) {
      expect(param.type).toBe("public-key");
      expect(typeof param.alg).toBe("number");
    }
    expect(body.pubKeyCredParams.map((p: { alg: number }) => p.alg).sort()).toEqual(
      [-7, -8, -35, -36, -37, -38, -39, -257, -258, -259, -65535].sort(),
    );
  });

  it("P-2: attestation none is echoed as none", async () => {
    const { body } = await binding.creationOptions({ ...toolRequest(), attestation: "none" });
    expect(body.status).toBe("ok");
    expect(body.attestation).toBe("none");
  });

  it("P-3: two option responses carry different challenges of 16 to 64 bytes", async () => {
    const first = await binding.creationOptions(toolRequest());
    const second = await binding.creationOptions(toolRequest());
    expect(first.body.challenge).not.toBe(second.body.challenge);
    for (const { body } of [first, second]) {
      const length = isoBase64URL.toBuffer(body.challenge).length;
      expect(length).toBeGreaterThanOrEqual(16);
      expect(length).toBeLessThanOrEqual(64);
    }
  });

  it("P-4: authenticatorSelection with userVerification required is echoed unchanged", async () => {
    const authenticatorSelection = { userVerification: "required" };
    const { body } = await binding.creationOptions({ ...toolRequest(), authenticatorSelection });
    expect(body.status).toBe("ok");
    expect(body.authenticatorSelection).toEqual(authenticatorSelection);
  });

  it.each([
    ["attestation given, nothing else", { attestation: "indirect" }],
    ["no attestation, no authenticatorSelection, no extensions", {}],
    [
      "residentKey and attachment",
      { authenticatorSelection: { residentKey: "required", authenticatorAttachment: "cross-platform" } },
    ],
  ])("echo: %s", async (_name, extra) => {
    const { username, displayName } = toolRequest();
    const { body } = await binding.creationOptions({ username, displayName, ...extra });
    expect(body.status).toBe("ok");
    const echoed = extra as Record<string, unknown>;
    expect(body.attestation).toBe(echoed.attestation ?? "none");
    expect(body.authenticatorSelection).toEqual(echoed.authenticatorSelection);
    expect(body.extensions).toEqual(echoed.extensions);
  });

  it("creation options carry none of rpId, userVerification or allowCredentials at top level", async () => {
    const { body } = await binding.creationOptions(toolRequest());
    expect(body).not.toHaveProperty("rpId");
    expect(body).not.toHaveProperty("userVerification");
    expect(body).not.toHaveProperty("allowCredentials");
  });

  it("a username registered before may be registered again (the tools re-use them); excludeCredentials lists its passkey", async () => {
    const { username, authenticator, result } = await binding.register();
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
    const again = await binding.creationOptions({ ...toolRequest(username) });
    expect(again.body.status).toBe("ok");
    expect(again.body.excludeCredentials[0]).toMatchObject({
      type: "public-key",
      id: authenticator.credentialIdBase64URL,
    });
  });

  it.each([
    ["username missing", { displayName: "x" }],
    ["username not a string", { username: 0, displayName: "x" }],
    ["username empty", { username: "", displayName: "x" }],
    ["displayName missing", { username: "someone" }],
    ["displayName not a string", { username: "someone", displayName: false }],
    ["attestation unknown", { username: "someone", displayName: "x", attestation: "bananas" }],
    ["authenticatorSelection not an object", { username: "someone", displayName: "x", authenticatorSelection: [] }],
    [
      "userVerification unknown",
      { username: "someone", displayName: "x", authenticatorSelection: { userVerification: "sometimes" } },
    ],
    ["extensions not an object", { username: "someone", displayName: "x", extensions: "example" }],
  ])("refuses a request with %s in the binding's failure shape", async (_name, body) => {
    expectFailed(await binding.creationOptions(body), expect);
  });

  it("user.name and user.displayName echo exactly what was sent; the account is stored as the native API stores names", async () => {
    const name = ` ${uniqueUsername("Spaced").toUpperCase()}  `;
    const displayName = "  John  Doe ";
    const created = await binding.creationOptions({ ...toolRequest(name), displayName });
    expect(created.body.user.name).toBe(name);
    expect(created.body.user.displayName).toBe(displayName);
    const { result, authenticator } = await binding.register({ username: name, request: { displayName } });
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
    // The same account under its normalised spelling.
    const options = await binding.getOptions({ username: name.trim().toLowerCase() });
    expect(options.body.allowCredentials).toEqual([
      expect.objectContaining({ id: authenticator.credentialIdBase64URL }),
    ]);
  });

  it("answers non-JSON and wrong content types in the binding's failure shape", async () => {
    const notJson = await binding.api("POST", "/attestation/options", undefined, { "content-type": "text/plain" });
    expectFailed(notJson as unknown as BindingResponse, expect);
  });
});

describe("CONFORMANCE_API gate", () => {
  it.each(["fido-conformance:victim", " FIDO-Conformance:victim", "FIDO-CONFORMANCE:VICTIM "])(
    "a native sign-up cannot take a name inside the binding's namespace (%j)",
    async (spelling) => {
      const response = await api("POST", "/api/v1/registration/challenge", { username: spelling, displayName: "x" });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("VALIDATION_ERROR");
    },
  );

  it("a passkey registered through the binding cannot sign in on /api/v1, not even usernameless", async () => {
    const { authenticator } = await binding.register();
    const { authenticationOptions } = await import("../support/api");
    const options = await authenticationOptions();
    const credential = await authenticator.assert(options.body.data, { origin: "http://localhost:8787" });
    const response = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(response.status).toBe(401);
    expect(response.body.data).toBeUndefined();
  });

  it.each(["/attestation/options", "/attestation/result", "/assertion/options", "/assertion/result"])(
    "%s does not exist unless CONFORMANCE_API is true",
    async (path) => {
      // The default test environment, like wrangler.toml, leaves the binding off.
      const response = await api("POST", path, toolRequest());
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe("NOT_FOUND");
    },
  );

  it("binding accounts are apart from native ones: a native username cannot be reached through the binding", async () => {
    // A native account named like a binding request must not gain a passkey from the binding:
    // the binding stores its accounts under its own prefix.
    const username = uniqueUsername("native");
    const { signUp } = await import("../support/api");
    await signUp(username);
    const viaBinding = await binding.register({ username });
    expect(viaBinding.result.body.status).toBe("ok");
    const native = await api("POST", "/api/v1/authentication/challenge", { username });
    // The native account still has exactly its own passkey.
    expect(native.body.data.allowCredentials).toHaveLength(1);
    expect(native.body.data.allowCredentials[0].id).not.toBe(viaBinding.authenticator.credentialIdBase64URL);
  });
});
