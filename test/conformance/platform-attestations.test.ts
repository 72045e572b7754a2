import { beforeAll, describe, expect, it } from "vitest";
import { newKey } from "../support/test-worker";
import {
  aaguidBytes,
  bindingClient,
  createTestCA,
  expectFailed,
  metadataStatement,
  type TestCA,
} from "./binding-client";
import {
  androidKeyStatement,
  appleStatement,
  craftedRegistration,
  credentialKey,
  safetyNetStatement,
} from "./crafted-attestation";

// Server-ServerAuthenticatorAttestationResponse-Resp-A ("android-key"), Resp-B
// ("android-safetynet") and apple anonymous attestation, with real attestations built in the test: the leaf certificate holds the
// credential key and the challenge-bound extension, issued by a test CA whose root a metadata
// statement names, as the FIDO conformance tool's virtual authenticators do. SimpleWebAuthn
// would only ever accept Google's and Apple's roots for these formats; with metadata for the
// AAGUID (ATTESTATION_TRUST = "mds") the statement's roots decide instead.
const ADMIN_API_KEY = newKey();
const ok = { status: "ok", errorMessage: "" };

const mds = bindingClient({ ATTESTATION_TRUST: "mds", ADMIN_API_KEY });
const none = bindingClient({ ATTESTATION_TRUST: "none" });
const statements = mds.metadataAdmin(ADMIN_API_KEY);

let vendor: TestCA;
let stranger: TestCA;
beforeAll(async () => {
  [vendor, stranger] = await Promise.all([createTestCA("Test Platform Vendor Root"), createTestCA("Unrelated Root")]);
});

async function statementFor(attestationTypes: string[]) {
  const aaguid = crypto.randomUUID();
  const loaded = await statements.loadStatements([
    metadataStatement(aaguid, { roots: [vendor.root], attestationTypes }),
  ]);
  expect(loaded.status).toBe(201);
  return aaguid;
}

type Statement = Parameters<typeof craftedRegistration>[1]["attStmt"];
const registration = (client: typeof mds, fmt: string, aaguid: string, attStmt: Statement) =>
  client.registerWith((options) => craftedRegistration(options, { fmt, aaguid: aaguidBytes(aaguid), attStmt }));

describe('Server-ServerAuthenticatorAttestationResponse-Resp-A ("android-key")', () => {
  it("P-1: a valid android-key attestation chaining to the statement's root is accepted", async () => {
    const aaguid = await statementFor(["basic_full"]);
    const { result } = await registration(mds, "android-key", aaguid, androidKeyStatement(vendor));
    expect(result.body).toEqual(ok);
  });

  it("F-1: a key description whose attestationChallenge is not clientDataHash is refused", async () => {
    const aaguid = await statementFor(["basic_full"]);
    const wrong = androidKeyStatement(vendor, { challenge: (hash) => hash.map((byte) => byte ^ 0xff) });
    const { result } = await registration(mds, "android-key", aaguid, wrong);
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("Attestation challenge was not equal to client data hash");
  });

  it("F-2: a leaf certificate with another public key than the credential's is refused", async () => {
    const aaguid = await statementFor(["basic_full"]);
    const other = (await credentialKey()).keys;
    const { result } = await registration(mds, "android-key", aaguid, androidKeyStatement(vendor, { leafKeys: other }));
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("Credential public key does not equal leaf cert public key");
  });

  it.each([
    ["origin not KM_ORIGIN_GENERATED (imported)", { origin: 2, purpose: [2] }, "android_key_origin_not_generated"],
    ["no origin", { purpose: [2] }, "android_key_origin_not_generated"],
    ["purpose not KM_PURPOSE_SIGN (encrypt)", { origin: 0, purpose: [0] }, "android_key_purpose_not_sign"],
    ["purposes sign and decrypt", { origin: 0, purpose: [2, 1] }, "android_key_purpose_not_sign"],
  ])("WebAuthn §8.4: a key description with %s is refused, under both policies", async (_name, teeEnforced, reason) => {
    const aaguid = await statementFor(["basic_full"]);
    const { result } = await registration(mds, "android-key", aaguid, androidKeyStatement(vendor, { teeEnforced }));
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain(`attestation_invalid:${reason}`);
    const unattested = await registration(none, "android-key", aaguid, androidKeyStatement(vendor, { teeEnforced }));
    expect(unattested.result.body.errorMessage).toContain(`attestation_invalid:${reason}`);
  });

  it("F-3: certificates in the wrong order are refused", async () => {
    const aaguid = await statementFor(["basic_full"]);
    const misordered = androidKeyStatement(vendor, { intermediates: 2, misordered: true });
    const { result } = await registration(mds, "android-key", aaguid, misordered);
    expectFailed(result, expect);
    // SimpleWebAuthn builds a path whatever the order; the order check refuses it.
    expect(result.body.errorMessage).toContain("chain_misordered");
  });

  it("a chain to a root the statement does not name is refused", async () => {
    const aaguid = await statementFor(["basic_full"]);
    const { result } = await registration(mds, "android-key", aaguid, androidKeyStatement(stranger));
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("chain_not_to_metadata_root");
  });

  it("without metadata (ATTESTATION_TRUST = none) only Google's roots are trusted: a test root is refused", async () => {
    const { result } = await registration(none, "android-key", crypto.randomUUID(), androidKeyStatement(vendor));
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("chain_not_to_vendor_root");
  });
});

describe('apple (anonymous attestation, "anonca")', () => {
  it("a valid apple attestation chaining to the statement's root is accepted", async () => {
    const aaguid = await statementFor(["anonca"]);
    const { result } = await registration(mds, "apple", aaguid, appleStatement(vendor));
    expect(result.body).toEqual(ok);
  });

  it("a nonce that is not SHA-256(authData || clientDataHash) is refused", async () => {
    const aaguid = await statementFor(["anonca"]);
    const wrong = appleStatement(vendor, { nonce: (nonce) => nonce.map((byte) => byte ^ 0x01) });
    const { result } = await registration(mds, "apple", aaguid, wrong);
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("credCert nonce was not expected value");
  });

  it("a chain to a root the statement does not name is refused", async () => {
    const aaguid = await statementFor(["anonca"]);
    const { result } = await registration(mds, "apple", aaguid, appleStatement(stranger));
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("chain_not_to_metadata_root");
  });

  it("a model whose statement declares no chained attestation type is refused", async () => {
    const aaguid = await statementFor(["basic_surrogate"]);
    const { result } = await registration(mds, "apple", aaguid, appleStatement(vendor));
    expect(result.body.errorMessage).toContain("full_attestation_not_in_metadata");
  });

  it("without metadata (ATTESTATION_TRUST = none) only Apple's root is trusted: a test root is refused", async () => {
    const { result } = await registration(none, "apple", crypto.randomUUID(), appleStatement(vendor));
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("chain_not_to_vendor_root");
  });
});

describe('Server-ServerAuthenticatorAttestationResponse-Resp-B ("android-safetynet")', () => {
  it("P-1: a valid SafetyNet attestation chaining to the statement's root is accepted", async () => {
    const aaguid = await statementFor(["basic_full"]);
    const { result } = await registration(mds, "android-safetynet", aaguid, safetyNetStatement(vendor));
    expect(result.body).toEqual(ok);
  });

  it.each([
    [
      "F-3: a nonce that is not the hash of authData || clientDataHash",
      { nonce: () => "AAAA" },
      "Could not verify payload nonce",
    ],
    ["F-5: ctsProfileMatch false", { ctsProfileMatch: false }, "Could not verify device integrity"],
    ["F-6: timestampMs in the future", { timestampMs: Date.now() + 600_000 }, "was later than"],
    ["F-7: timestampMs older than a minute", { timestampMs: Date.now() - 120_000 }, "has expired"],
  ])("%s is refused", async (_name, options, reason) => {
    const aaguid = await statementFor(["basic_full"]);
    const { result } = await registration(mds, "android-safetynet", aaguid, safetyNetStatement(vendor, options));
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain(reason);
  });

  it.each([
    ["F-1: ver empty", { ver: "" }, "No ver value"],
    // An empty byte string is truthy to the library; the statement's shape check refuses it first.
    ["F-2: response empty", { response: new Uint8Array() }, "attestation_malformed:android-safetynet_response_type"],
  ])("%s is refused", async (_name, change, reason) => {
    const aaguid = await statementFor(["basic_full"]);
    const statement = safetyNetStatement(vendor);
    const changed: Statement = async (parts) => ({ ...(await statement(parts)), ...change });
    const { result } = await registration(mds, "android-safetynet", aaguid, changed);
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain(reason);
  });

  it("F-4: a JWS whose header has an empty x5c is refused", async () => {
    const aaguid = await statementFor(["basic_full"]);
    const { result } = await registration(mds, "android-safetynet", aaguid, safetyNetStatement(vendor, { x5c: [] }));
    expectFailed(result, expect);
  });

  it("a chain to a root the statement does not name is refused", async () => {
    const aaguid = await statementFor(["basic_full"]);
    const { result } = await registration(mds, "android-safetynet", aaguid, safetyNetStatement(stranger));
    expect(result.body.errorMessage).toContain("chain_not_to_metadata_root");
  });

  it("without metadata (ATTESTATION_TRUST = none) only the GlobalSign root is trusted: a test root is refused", async () => {
    const { result } = await registration(none, "android-safetynet", crypto.randomUUID(), safetyNetStatement(vendor));
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("chain_not_to_vendor_root");
  });
});
