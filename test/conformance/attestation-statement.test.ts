import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { COSE_ALG, cbor, concat, sign } from "../authenticator/cose";
import { api, registrationOptions, uniqueUsername } from "../support/api";
import { captureLogLines } from "../support/log-lines";
import { bindingClient, createTestCA, expectFailed, type TestCA } from "./binding-client";
import { craftedRegistration, packedStatement, type SignedParts, u2fStatement } from "./crafted-attestation";

// WebAuthn §6.5.4 and §8: an attestation object is a CBOR map of fmt, attStmt and authData,
// and each format's attStmt a map of the members §8 gives it, of the types it gives them.
// Whatever a client sends there must be refused as a failed registration (400, one failure
// event with its reason), never reach code that assumes the shape (a 500), and every rule of
// §8 applies under every trust policy.

const none = bindingClient({ ATTESTATION_TRUST: "none" });
const zeroAAGUID = new Uint8Array(16);

let lines: string[] = [];
beforeEach(() => {
  lines = captureLogLines();
});
afterEach(() => vi.restoreAllMocks());

const registrationEvents = () =>
  lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.type === "security_event" && record.event === "registration_attempt");

type Spec = Parameters<typeof craftedRegistration>[1];

/** The same crafted registration through the native API: 400 REGISTRATION_FAILED expected by callers. */
async function nativeRegistration(spec: Spec) {
  const options = await registrationOptions({ username: uniqueUsername("attstmt"), displayName: "Statement Test" });
  if (options.status !== 200) throw new Error(`registration challenge failed: ${JSON.stringify(options.body)}`);
  const { getClientExtensionResults: _, ...credential } = await craftedRegistration(options.body.data, spec);
  return api("POST", "/api/v1/registration/verify", { credential: { ...credential, clientExtensionResults: {} } });
}

function expectOneFailureEvent(reason: RegExp) {
  const events = registrationEvents();
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ outcome: "failure", reason: expect.stringMatching(reason) });
}

/** Packed self attestation claiming `alg` while the credential key (ES256) signs. */
const selfAttestationClaiming =
  (alg: number) =>
  async ({ authData, clientDataHash, credential }: SignedParts) => ({
    alg,
    sig: await sign(credential.algorithm, credential.keys.privateKey, concat(authData, clientDataHash)),
  });

describe("attStmt of fmt none (WebAuthn §8.7: an empty map)", () => {
  it.each([
    ["an empty array", []],
    ["zero", 0],
    ["a string", "none"],
    ["null", null],
    ["a byte string", new Uint8Array([0xa0])],
  ])("%s is refused on the binding with one failure event", async (_name, attStmt) => {
    const { result } = await none.registerWith((options) =>
      craftedRegistration(options, { fmt: "none", aaguid: zeroAAGUID, attStmt: async () => attStmt }),
    );
    expectFailed(result, expect);
    expect(result.status).toBe(400);
    expectOneFailureEvent(/^attestation_malformed:/);
  });

  it("an empty array is refused on the native API with REGISTRATION_FAILED", async () => {
    const answer = await nativeRegistration({ fmt: "none", aaguid: zeroAAGUID, attStmt: async () => [] });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("REGISTRATION_FAILED");
    expectOneFailureEvent(/^attestation_malformed:/);
  });

  it("a non-empty map is refused", async () => {
    const { result } = await none.registerWith((options) =>
      craftedRegistration(options, { fmt: "none", aaguid: zeroAAGUID, attStmt: async () => ({ alg: -7 }) }),
    );
    expectFailed(result, expect);
    expectOneFailureEvent(/^(attestation_malformed|verification_error):/);
  });
});

describe("packed self attestation (WebAuthn §8.2: alg is the credential key's)", () => {
  it("RS256 claimed on an ES256 key, validly signed by it, is refused under ATTESTATION_TRUST=none", async () => {
    const { result } = await none.registerWith((options) =>
      craftedRegistration(options, {
        fmt: "packed",
        aaguid: zeroAAGUID,
        attStmt: selfAttestationClaiming(COSE_ALG.RS256),
      }),
    );
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("self_attestation_algorithm_mismatch");
    expectOneFailureEvent(/self_attestation_algorithm_mismatch/);
  });

  it("the same on the native API", async () => {
    const answer = await nativeRegistration({
      fmt: "packed",
      aaguid: zeroAAGUID,
      attStmt: selfAttestationClaiming(COSE_ALG.RS256),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("REGISTRATION_FAILED");
    expectOneFailureEvent(/self_attestation_algorithm_mismatch/);
  });

  it("ES256 claimed on the ES256 key is accepted (the positive control)", async () => {
    const { result } = await none.registerWith((options) =>
      craftedRegistration(options, { fmt: "packed", aaguid: zeroAAGUID, attStmt: selfAttestationClaiming(-7) }),
    );
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
  });
});

describe("the attestation object itself (WebAuthn §6.5.4)", () => {
  const trailing = (extra: number[]) => (encoded: Uint8Array<ArrayBuffer>) => concat(encoded, new Uint8Array(extra));

  it.each([
    ["one trailing zero byte", trailing([0x00])],
    ["a second CBOR map after it", trailing([0xa0])],
  ])("%s after the map is refused", async (_name, attestationObject) => {
    const { result } = await none.registerWith((options) =>
      craftedRegistration(options, { fmt: "none", aaguid: zeroAAGUID, attStmt: async () => ({}), attestationObject }),
    );
    expectFailed(result, expect);
    expectOneFailureEvent(/^attestation_malformed:trailing_bytes/);
  });

  it.each([
    ["an array", () => cbor(["none", {}, new Uint8Array(37)])],
    ["a byte string", () => cbor(new Uint8Array(64))],
    ["an integer", () => cbor(7)],
    ["truncated", (encoded: Uint8Array<ArrayBuffer>) => encoded.slice(0, encoded.length - 3)],
  ])("a top level that is %s is refused", async (_name, attestationObject) => {
    const { result } = await none.registerWith((options) =>
      craftedRegistration(options, { fmt: "none", aaguid: zeroAAGUID, attStmt: async () => ({}), attestationObject }),
    );
    expectFailed(result, expect);
    expectOneFailureEvent(/^attestation_malformed:/);
  });

  it("a member besides fmt, attStmt and authData is refused", async () => {
    const { result } = await none.registerWith((options) =>
      craftedRegistration(options, {
        fmt: "none",
        aaguid: zeroAAGUID,
        attStmt: async () => ({}),
        // cborg writes a map header 0xa3; one more member: "x": 1.
        attestationObject: (encoded) => concat(new Uint8Array([0xa4]), encoded.subarray(1), cbor("x"), cbor(1)),
      }),
    );
    expectFailed(result, expect);
    expectOneFailureEvent(/^attestation_malformed:/);
  });
});

describe("packed full attestation shape", () => {
  let ca: TestCA;
  beforeEach(async () => {
    ca ??= await createTestCA("Statement Shape Root");
  });

  it.each([
    ["x5c empty", (s: Record<string, unknown>) => ({ ...s, x5c: [] })],
    ["x5c a byte string", (s: Record<string, unknown>) => ({ ...s, x5c: (s.x5c as Uint8Array[])[0] })],
    ["x5c holding a number", (s: Record<string, unknown>) => ({ ...s, x5c: [1] })],
    ["alg a string", (s: Record<string, unknown>) => ({ ...s, alg: "ES256" })],
    ["sig a string", (s: Record<string, unknown>) => ({ ...s, sig: "signature" })],
    ["an unknown member", (s: Record<string, unknown>) => ({ ...s, ecdaaKeyId: new Uint8Array(32) })],
  ])("%s is refused", async (_name, change) => {
    const batch = await ca.issueBatch();
    const statement = packedStatement(batch.x5c, batch);
    const { result } = await none.registerWith((options) =>
      craftedRegistration(options, {
        fmt: "packed",
        aaguid: zeroAAGUID,
        attStmt: async (parts) => change(await statement(parts)),
      }),
    );
    expectFailed(result, expect);
    expectOneFailureEvent(/^attestation_malformed:/);
  });

  it("the unchanged statement is accepted (the positive control)", async () => {
    const batch = await ca.issueBatch();
    const { result } = await none.registerWith((options) =>
      craftedRegistration(options, { fmt: "packed", aaguid: zeroAAGUID, attStmt: packedStatement(batch.x5c, batch) }),
    );
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
  });
});

describe("fido-u2f (WebAuthn §8.6)", () => {
  let ca: TestCA;
  beforeEach(async () => {
    ca ??= await createTestCA("U2F Rules Root");
  });

  const u2fRegistration = async (batch: Awaited<ReturnType<TestCA["issueBatch"]>>) =>
    none.register({ authenticatorOptions: { attestation: "fido-u2f", attestationCertificate: batch } });

  it("a single P-256 attestation certificate is accepted (the positive control)", async () => {
    const { result } = await u2fRegistration(await ca.issueBatch());
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
  });

  it("x5c with more than one certificate is refused", async () => {
    const { result } = await u2fRegistration(await ca.issueBatch({ intermediate: true }));
    expectFailed(result, expect);
    expectOneFailureEvent(/^attestation_invalid:u2f_certificate_count$/);
  });

  it("an attestation certificate whose key is P-384, signing validly with SHA-256, is refused", async () => {
    // What the library verifies a U2F signature with (ECDSA, SHA-256) holds for any EC key.
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, false, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const batch = await ca.issueBatch({ keys });
    const { result } = await none.registerWith((options) =>
      craftedRegistration(options, { fmt: "fido-u2f", aaguid: zeroAAGUID, attStmt: u2fStatement(batch) }),
    );
    expectFailed(result, expect);
    expectOneFailureEvent(/^attestation_invalid:u2f_certificate_not_p256$/);
  });

  it("an RSA attestation certificate is refused (its signature is no ECDSA DER sequence)", async () => {
    const { result } = await u2fRegistration(await ca.issueBatch({ algorithm: "RS256" }));
    expectFailed(result, expect);
    expectOneFailureEvent(/^attestation_malformed:fido-u2f_sig_der$/);
  });
});
