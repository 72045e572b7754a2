import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { beforeAll, describe, expect, it } from "vitest";
import { concat } from "../authenticator/cose";
import type { SoftAuthenticator } from "../authenticator/soft-authenticator";
import { api, ORIGIN, uniqueUsername } from "../support/api";
import {
  bindingClient,
  type Credential,
  clientData,
  collectedClientDataCases,
  expectFailed,
  notAnObject,
  notAString,
  set,
  standardBase64,
  type Tamper,
} from "./binding-client";

// Server-ServerPublicKeyCredentialGetOptionsResponse-Req-1 and
// Server-ServerAuthenticatorAssertionResponse-Resp-1 … Resp-3 ("GetAssertion"), from the public
// catalogue in docs/conformance.md.
const binding = bindingClient();
const unpaddedBase64URL = /^[A-Za-z0-9_-]+$/;

/** One registered account per test, as the tools register one before each suite. */
async function registered(options: Parameters<typeof binding.register>[0] = {}) {
  const { username, authenticator, result } = await binding.register(options);
  expect(result.body.status).toBe("ok");
  return { username, authenticator };
}

const ok = { status: "ok", errorMessage: "" };

describe("Server-ServerPublicKeyCredentialGetOptionsResponse-Req-1", () => {
  it("P-1: answers with challenge, rpId, exactly one allowCredentials entry, and echoes userVerification and extensions", async () => {
    const { username, authenticator } = await registered();
    const extensions = { "example.extension": true };
    const { status, body } = await binding.getOptions({ username, userVerification: "required", extensions });
    expect(status).toBe(200);
    expect(body.status).toBe("ok");
    expect(body.errorMessage).toBe("");
    expect(body.challenge).toMatch(unpaddedBase64URL);
    expect(isoBase64URL.toBuffer(body.challenge).length).toBeGreaterThanOrEqual(16);
    expect(isoBase64URL.toBuffer(body.challenge).length).toBeLessThanOrEqual(64);
    expect(body.timeout).toBeGreaterThan(0);
    expect(body.rpId).toBe("localhost");
    expect(body.allowCredentials).toEqual([
      expect.objectContaining({ type: "public-key", id: authenticator.credentialIdBase64URL }),
    ]);
    expect(body.userVerification).toBe("required");
    expect(body.extensions).toEqual(extensions);
  });

  it("P-2: two get-options responses carry different challenges", async () => {
    const { username } = await registered();
    const first = await binding.getOptions({ username });
    const second = await binding.getOptions({ username });
    expect(first.body.challenge).not.toBe(second.body.challenge);
  });

  it.each(["discouraged", "preferred", "required"])("userVerification %s is echoed as requested", async (uv) => {
    const { username } = await registered();
    const { body } = await binding.getOptions({ username, userVerification: uv });
    expect(body.userVerification).toBe(uv);
  });

  it("get options carry none of rp, user, pubKeyCredParams, excludeCredentials, authenticatorSelection or attestation", async () => {
    const { username } = await registered();
    const { body } = await binding.getOptions({ username });
    for (const forbidden of [
      "rp",
      "user",
      "pubKeyCredParams",
      "excludeCredentials",
      "authenticatorSelection",
      "attestation",
    ]) {
      expect(body).not.toHaveProperty(forbidden);
    }
  });

  it("an unknown username fails (the native API answers with decoys instead)", async () => {
    const response = await binding.getOptions({ username: uniqueUsername("nobody") });
    expectFailed(response, expect);
    expect(response.status).toBe(404);
    const native = await api("POST", "/api/v1/authentication/challenge", { username: uniqueUsername("nobody") });
    expect(native.status).toBe(200);
  });

  it.each([
    ["username missing", {}],
    ["username not a string", { username: false }],
    ["userVerification unknown", { username: "someone", userVerification: "always" }],
    ["extensions not an object", { username: "someone", extensions: [] }],
  ])("refuses a request with %s", async (_name, body) => {
    expectFailed(await binding.getOptions(body), expect);
  });
});

describe("Server-ServerAuthenticatorAssertionResponse-Resp-1 (structure)", () => {
  let account: { username: string; authenticator: SoftAuthenticator };
  let other: { username: string; authenticator: SoftAuthenticator };
  beforeAll(async () => {
    [account, other] = [await registered(), await registered()];
    expect(other.authenticator.userHandle).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(other.authenticator.userHandle).not.toBe(account.authenticator.userHandle);
  });

  it("P-1: a valid assertion is accepted", async () => {
    expect((await binding.authenticate(account.authenticator, account.username)).body).toEqual(ok);
  });

  it("an assertion without userHandle, or with an empty one, is accepted", async () => {
    expect(
      (await binding.authenticate(account.authenticator, account.username, { client: { userHandle: null } })).body,
    ).toEqual(ok);
    expect(
      (await binding.authenticate(account.authenticator, account.username, { tamper: set("response.userHandle", "") }))
        .body,
    ).toEqual(ok);
  });

  const cases: [string, Tamper][] = [
    ["F-1: id missing", set("id", undefined)],
    ...notAString.map((v): [string, Tamper] => [`F-2: id not a DOMString (${JSON.stringify(v)})`, set("id", v)]),
    ["F-3: id not base64url (standard base64 with padding)", (c) => set("id", standardBase64(c.id))(c)],
    ["F-4: type missing", set("type", undefined)],
    ...notAString.map((v): [string, Tamper] => [`F-5: type not a DOMString (${JSON.stringify(v)})`, set("type", v)]),
    ["F-6: type not public-key", set("type", "avocado-toast")],
    ["F-7: response missing", set("response", undefined)],
    ...notAnObject.map((v): [string, Tamper] => [
      `F-8: response not an Object (${JSON.stringify(v)})`,
      set("response", v),
    ]),
    ["F-9: clientDataJSON missing", set("response.clientDataJSON", undefined)],
    ...notAString.map((v): [string, Tamper] => [
      `F-10: clientDataJSON not a DOMString (${JSON.stringify(v)})`,
      set("response.clientDataJSON", v),
    ]),
    ["F-11: clientDataJSON empty", set("response.clientDataJSON", "")],
    ["F-12: authenticatorData missing", set("response.authenticatorData", undefined)],
    ...notAString.map((v): [string, Tamper] => [
      `F-13: authenticatorData not a DOMString (${JSON.stringify(v)})`,
      set("response.authenticatorData", v),
    ]),
    [
      "F-14: authenticatorData not base64url",
      (c) => set("response.authenticatorData", standardBase64(c.response.authenticatorData))(c),
    ],
    ["F-15: authenticatorData empty", set("response.authenticatorData", "")],
    ["F-16: signature missing", set("response.signature", undefined)],
    ...notAString.map((v): [string, Tamper] => [
      `F-17: signature not a DOMString (${JSON.stringify(v)})`,
      set("response.signature", v),
    ]),
    ["F-18: signature not base64url", (c) => set("response.signature", standardBase64(c.response.signature))(c)],
    ["F-19: signature empty", set("response.signature", "")],
    ...[{}, [], 0, 16657, false, true].map((v): [string, Tamper] => [
      `F-21: userHandle not a DOMString (${JSON.stringify(v)})`,
      set("response.userHandle", v),
    ]),
    // A real account's handle (registered through the binding), not a made-up one.
    ["userHandle of another registered user", (c) => set("response.userHandle", other.authenticator.userHandle)(c)],
    [
      "userHandle that names no account",
      set("response.userHandle", isoBase64URL.fromBuffer(new Uint8Array(16).fill(9))),
    ],
    ["rawId differs from id", set("rawId", isoBase64URL.fromBuffer(new Uint8Array(32)))],
  ];
  it.each(cases)("%s → failed", async (_name, tamper) => {
    expectFailed(await binding.authenticate(account.authenticator, account.username, { tamper }), expect);
  });

  it("a userHandle of another registered user fails as a mismatch, though the signature is valid", async () => {
    const tamper = (c: Credential) => set("response.userHandle", other.authenticator.userHandle)(c);
    const response = await binding.authenticate(account.authenticator, account.username, { tamper });
    expectFailed(response, expect);
    expect(response.body.errorMessage).toContain("user_handle_mismatch");
  });

  it("F-20: a signature that does not verify → failed", async () => {
    expectFailed(
      await binding.authenticate(account.authenticator, account.username, { client: { corruptSignature: true } }),
      expect,
    );
  });
});

describe("Server-ServerAuthenticatorAssertionResponse-Resp-2 (CollectedClientData)", () => {
  let account: { username: string; authenticator: SoftAuthenticator };
  beforeAll(async () => {
    account = await registered();
  });

  const cases = collectedClientDataCases("get");
  it.each(cases)("%s → failed", async (_name, tamper) => {
    expectFailed(await binding.authenticate(account.authenticator, account.username, { tamper }), expect);
  });
});

describe("Server-ServerAuthenticatorAssertionResponse-Resp-3 (authenticatorData)", () => {
  it("P-1: an authenticator without a counter (always 0) signs in again and again", async () => {
    const { username, authenticator } = await registered({ authenticatorOptions: { countSignatures: false } });
    for (let i = 0; i < 2; i++) expect((await binding.authenticate(authenticator, username)).body).toEqual(ok);
  });

  // [catalogue id, requested userVerification, UP, UV]; the old tools' authenticator clears UP
  // whenever user verification was discouraged.
  const flagCases: [string, string, boolean, boolean][] = [
    // The old tools' P-2 sets only UV: UV implies presence, so a clear UP flag does not matter.
    ["P-2: UV set (UP clear), required", "required", false, true],
    ["P-3: UV and UP set, required", "required", true, true],
    ["P-4: UV and UP clear, preferred", "preferred", false, false],
    ["P-5: UP set, discouraged", "discouraged", true, false],
    ["P-6: UV set, discouraged", "discouraged", false, true],
    ["P-7: UV and UP clear, discouraged", "discouraged", false, false],
    ["(1.9.x) P-3: UV clear, preferred", "preferred", true, false],
    ["(1.9.x) P-4: UV set, preferred", "preferred", true, true],
  ];
  it.each(flagCases)("%s → ok", async (_name, userVerification, userPresent, userVerified) => {
    const { username, authenticator } = await registered();
    const response = await binding.authenticate(authenticator, username, {
      request: { userVerification },
      client: { userPresent, userVerified },
    });
    expect(response.body).toEqual(ok);
  });

  it("P-8: authenticatorData with the ED flag and extension data → ok", async () => {
    const { username, authenticator } = await registered();
    const response = await binding.authenticate(authenticator, username, {
      client: { extensions: new Map([["example.extension", true]]) },
    });
    expect(response.body).toEqual(ok);
  });

  it("F-1: authenticatorData with leftover bytes → failed", async () => {
    const { username, authenticator } = await registered();
    const tamper: Tamper = (c) => {
      const data = isoBase64URL.toBuffer(c.response.authenticatorData);
      c.response.authenticatorData = isoBase64URL.fromBuffer(concat(data, new Uint8Array([0xde, 0xad])));
      return c;
    };
    expectFailed(await binding.authenticate(authenticator, username, { tamper }), expect);
  });

  it("F-2: an rpIdHash for another RP ID → failed", async () => {
    const { username, authenticator } = await registered();
    expectFailed(await binding.authenticate(authenticator, username, { client: { rpId: "example.com" } }), expect);
  });

  it("F-3: a signature over another clientDataHash → failed", async () => {
    const { username, authenticator } = await registered();
    // The signature was made over the original client data; the posted one differs by a field.
    const tamper = clientData((d) => (d.crossOrigin = true));
    expectFailed(await binding.authenticate(authenticator, username, { tamper }), expect);
  });

  it("F-4: a counter that did not increase → failed", async () => {
    const { username, authenticator } = await registered({ authenticatorOptions: { signCount: 5 } });
    expect((await binding.authenticate(authenticator, username)).body).toEqual(ok);
    expectFailed(await binding.authenticate(authenticator, username, { client: { signCount: 5 } }), expect);
  });

  it("F-5: only UP set while user verification was required → failed", async () => {
    const { username, authenticator } = await registered();
    const response = await binding.authenticate(authenticator, username, {
      request: { userVerification: "required" },
      client: { userPresent: true, userVerified: false },
    });
    expectFailed(response, expect);
  });

  it("the native API still refuses an assertion without user presence", async () => {
    const { signUp, signIn } = await import("../support/api");
    const { authenticator, username } = await signUp();
    const response = await signIn(authenticator, username, { userPresent: false });
    expect(response.status).toBe(401);
  });

  it("a challenge from the binding cannot be finished on the native API", async () => {
    const { username, authenticator } = await registered();
    const options = await binding.getOptions({ username });
    const credential = await authenticator.assert(options.body, { origin: ORIGIN, userPresent: false });
    const native = await api("POST", "/api/v1/authentication/verify", { credential });
    expect(native.status).toBe(400);
    expect(native.body.error.code).toBe("INVALID_CHALLENGE");
  });

  it("a challenge from the native API cannot be finished on the binding", async () => {
    const { signUp, authenticationOptions } = await import("../support/api");
    const { authenticator, username } = await signUp();
    const options = await authenticationOptions({ username });
    expect(options.status).toBe(200);
    const credential = await authenticator.assert(options.body.data, { origin: ORIGIN });
    const response = await binding.post("/assertion/result", credential);
    expectFailed(response, expect);
    expect(response.body.errorMessage).toContain("challenge");
  });
});
