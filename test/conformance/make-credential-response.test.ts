import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { decode } from "cborg";
import { beforeAll, describe, expect, it } from "vitest";
import { cbor, concat, type KeyAlgorithm } from "../authenticator/cose";
import { SoftAuthenticator } from "../authenticator/soft-authenticator";
import { newKey } from "../support/test-worker";
import {
  aaguidBytes,
  bindingClient,
  clientData,
  collectedClientDataCases,
  createTestCA,
  expectFailed,
  metadataStatement,
  notAnObject,
  notAString,
  set,
  standardBase64,
  type Tamper,
  type TestCA,
} from "./binding-client";
import { craftedRegistration, credentialKey, packedStatement } from "./crafted-attestation";

// Server-ServerAuthenticatorAttestationResponse-Resp-1 … Resp-8 ("MakeCredential Response"),
// from the public catalogue in docs/conformance.md. Every F- item posts a real registration
// from our software authenticator, changed the way the item describes.
const binding = bindingClient();

type AttestationObject = { fmt?: unknown; attStmt?: Record<string, unknown> | unknown; authData?: unknown };
const attestationObject =
  (change: (object: AttestationObject) => AttestationObject | Uint8Array | undefined): Tamper =>
  (credential) => {
    const object = decode(isoBase64URL.toBuffer(credential.response.attestationObject)) as AttestationObject;
    const changed = change(object) ?? object;
    const bytes = changed instanceof Uint8Array ? changed : cbor(changed);
    credential.response.attestationObject = isoBase64URL.fromBuffer(new Uint8Array(bytes));
    return credential;
  };

const authData = (change: (bytes: Uint8Array) => Uint8Array) =>
  attestationObject((object) => ({ ...object, authData: change(object.authData as Uint8Array) }));

async function expectRejected(options: Parameters<typeof binding.register>[0], client = binding) {
  const { result } = await client.register(options);
  expectFailed(result, expect);
  return result;
}

async function expectAccepted(options: Parameters<typeof binding.register>[0]) {
  const { result } = await binding.register(options);
  expect(result.body).toEqual({ status: "ok", errorMessage: "" });
  expect(result.status).toBe(200);
}

describe("Server-ServerAuthenticatorAttestationResponse-Resp-1 (structure)", () => {
  it("P-1: a valid packed registration is accepted and then listed in excludeCredentials", async () => {
    const { username, authenticator, result } = await binding.register({
      authenticatorOptions: { attestation: "packed" },
    });
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
    const again = await binding.creationOptions({ username, displayName: "Again" });
    expect(again.body.excludeCredentials).toEqual([
      expect.objectContaining({ type: "public-key", id: authenticator.credentialIdBase64URL }),
    ]);
  });

  const cases: [string, Tamper][] = [
    ["F-1: id missing", set("id", undefined)],
    ...notAString.map((value): [string, Tamper] => [
      `F-2: id not a DOMString (${JSON.stringify(value)})`,
      set("id", value),
    ]),
    ["F-3: id not base64url (standard base64 with padding)", (c) => set("id", standardBase64(c.id))(c)],
    ["F-4: type missing", set("type", undefined)],
    ...notAString.map((value): [string, Tamper] => [
      `F-5: type not a DOMString (${JSON.stringify(value)})`,
      set("type", value),
    ]),
    ["F-6: type not public-key", set("type", "avocado-toast")],
    ["F-7: response missing", set("response", undefined)],
    ...notAnObject.map((value): [string, Tamper] => [
      `F-8: response not an Object (${JSON.stringify(value)})`,
      set("response", value),
    ]),
    ["F-9: clientDataJSON missing", set("response.clientDataJSON", undefined)],
    ...notAString.map((value): [string, Tamper] => [
      `F-10: clientDataJSON not a DOMString (${JSON.stringify(value)})`,
      set("response.clientDataJSON", value),
    ]),
    ["F-11: clientDataJSON empty", set("response.clientDataJSON", "")],
    ["F-12: attestationObject missing", set("response.attestationObject", undefined)],
    ...notAString.map((value): [string, Tamper] => [
      `F-13: attestationObject not a DOMString (${JSON.stringify(value)})`,
      set("response.attestationObject", value),
    ]),
    ["F-14: attestationObject empty", set("response.attestationObject", "")],
    ["rawId differs from id", set("rawId", isoBase64URL.fromBuffer(new Uint8Array(32)))],
    ["getClientExtensionResults not an object", set("getClientExtensionResults", [])],
  ];
  it.each(cases)("%s → failed", async (_name, tamper) => {
    await expectRejected({ tamper });
  });

  it("rawId may be left out, as old tools do", async () => {
    await expectAccepted({ tamper: set("rawId", undefined) });
  });

  it("F-15: UV clear while the options required user verification → failed", async () => {
    await expectRejected({
      request: { authenticatorSelection: { userVerification: "required" } },
      client: { userVerified: false },
    });
  });

  it("UV clear is accepted when user verification was only preferred (the tools' authenticator never verifies)", async () => {
    await expectAccepted({
      request: { authenticatorSelection: { userVerification: "preferred" } },
      client: { userVerified: false },
    });
  });
});

describe("Server-ServerAuthenticatorAttestationResponse-Resp-2 (CollectedClientData)", () => {
  const cases: [string, Tamper][] = [
    ...collectedClientDataCases("create"),
    ["clientDataJSON not JSON", set("response.clientDataJSON", isoBase64URL.fromBuffer(new Uint8Array([1, 2, 3])))],
  ];
  it.each(cases)("%s → failed", async (_name, tamper) => {
    await expectRejected({ tamper });
  });

  it('a tokenBinding "present" without its id is refused by validation, before any verification', async () => {
    const result = await expectRejected({ tamper: clientData((d) => (d.tokenBinding = { status: "present" })) });
    expect(result.body.errorMessage).toContain(
      'tokenBinding.id: a tokenBinding with status "present" must carry its id',
    );
  });

  it.each(["present", "supported", "not-supported"])("tokenBinding with status %s is accepted", async (status) => {
    await expectAccepted({
      tamper: clientData((d) => (d.tokenBinding = { status, ...(status === "present" ? { id: "AAAA" } : {}) })),
    });
  });
});

describe("Server-ServerAuthenticatorAttestationResponse-Resp-3 (attestationObject)", () => {
  it("P-1: packed attestation with the ED flag and extension data is accepted", async () => {
    await expectAccepted({
      authenticatorOptions: { attestation: "packed" },
      client: {
        extensions: new Map([
          [
            "example.extension",
            "This is an example extension! If you read this message, you probably successfully passing conformance tests. Good job!",
          ],
        ]),
      },
    });
  });

  const packed = { authenticatorOptions: { attestation: "packed" as const } };
  const cases: [string, { tamper: Tamper; authenticatorOptions?: { attestation: "packed" } }][] = [
    [
      "F-1: not a CBOR map (random bytes prepended)",
      { tamper: attestationObject((o) => concat(new TextEncoder().encode("random"), cbor(o))) },
    ],
    ["F-2: fmt missing", { tamper: attestationObject(({ fmt: _, ...rest }) => rest) }],
    ["F-3: fmt not a text string", { tamper: attestationObject((o) => ({ ...o, fmt: 42 })) }],
    ["F-4: attStmt missing", { ...packed, tamper: attestationObject(({ attStmt: _, ...rest }) => rest) }],
    ["F-5: attStmt not a map", { ...packed, tamper: attestationObject((o) => ({ ...o, attStmt: "a string" })) }],
    ["F-6: authData missing", { tamper: attestationObject(({ authData: _, ...rest }) => rest) }],
    ["F-7: authData not a byte string", { tamper: attestationObject((o) => ({ ...o, authData: "bytes" })) }],
    ["F-8: authData empty", { tamper: attestationObject((o) => ({ ...o, authData: new Uint8Array() })) }],
    [
      "F-9: AT flag clear but attested credential data present",
      { tamper: authData((d) => flags(d, (f) => f & ~0x40)) },
    ],
    [
      "F-10: AT flag clear and no attested credential data",
      { tamper: authData((d) => flags(d.slice(0, 37), (f) => f & ~0x40)) },
    ],
    ["F-11: AT flag set but no attested credential data", { tamper: authData((d) => d.slice(0, 37)) }],
    [
      "F-12: leftover bytes after the attested credential data",
      { tamper: authData((d) => concat(d, new Uint8Array([0xde, 0xad]))) },
    ],
    ["F-13: packed attStmt is an empty map", { ...packed, tamper: attestationObject((o) => ({ ...o, attStmt: {} })) }],
    ["F-14: packed attStmt.alg missing", { ...packed, tamper: attStmt(({ alg: _, ...rest }) => rest) }],
    ["F-15: packed attStmt.alg not a Number", { ...packed, tamper: attStmt((s) => ({ ...s, alg: "ES256" })) }],
    // F-16 proper (alg against the metadata statement) is below, under ATTESTATION_TRUST = mds.
    ["packed attStmt.alg not a COSE algorithm (-42)", { ...packed, tamper: attStmt((s) => ({ ...s, alg: -42 })) }],
    ["F-17: packed attStmt.sig missing", { ...packed, tamper: attStmt(({ sig: _, ...rest }) => rest) }],
    ["F-18: packed attStmt.sig not a byte string", { ...packed, tamper: attStmt((s) => ({ ...s, sig: "signature" })) }],
    ["F-19: packed attStmt.sig empty", { ...packed, tamper: attStmt((s) => ({ ...s, sig: new Uint8Array() })) }],
  ];
  it.each(cases)("%s → failed", async (_name, options) => {
    await expectRejected(options);
  });
});

function flags(data: Uint8Array, change: (flags: number) => number): Uint8Array {
  const copy = new Uint8Array(data);
  copy[32] = change(copy[32] ?? 0);
  return copy;
}

function attStmt(change: (statement: Record<string, unknown>) => Record<string, unknown>) {
  return attestationObject((o) => ({ ...o, attStmt: change(o.attStmt as Record<string, unknown>) }));
}

// Each algorithm is proven in workerd with a real key: registration (packed self attestation,
// signed by the new credential key) and then an assertion verified against the stored key.
const algorithms: [string, KeyAlgorithm][] = [
  ["P-2: RSASSA-PSS SHA-256 (PS256, -37)", "PS256"],
  ["P-3: RSASSA-PSS SHA-384 (PS384, -38)", "PS384"],
  ["P-4: RSASSA-PSS SHA-512 (PS512, -39)", "PS512"],
  ["P-5: RSASSA-PKCS1-v1_5 SHA-256 (RS256, -257)", "RS256"],
  ["P-6: RSASSA-PKCS1-v1_5 SHA-384 (RS384, -258)", "RS384"],
  ["P-7: RSASSA-PKCS1-v1_5 SHA-512 (RS512, -259)", "RS512"],
  ["P-8: RSASSA-PKCS1-v1_5 SHA-1 (RS1, -65535)", "RS1"],
  ["P-9: ECDSA P-256 SHA-256 (ES256, -7)", "ES256"],
  ["P-10: ECDSA P-384 SHA-384 (ES384, -35)", "ES384"],
  ["P-11: ECDSA P-521 SHA-512 (ES512, -36)", "ES512"],
  ["P-12: Ed25519 (EdDSA, -8)", "EdDSA"],
];

describe("Server-ServerAuthenticatorAttestationResponse-Resp-4 (algorithms, packed self attestation)", () => {
  it.each(algorithms)("%s registers and then signs in", async (_name, algorithm) => {
    const { username, authenticator, result } = await binding.register({
      authenticatorOptions: { algorithm, attestation: "packed" },
    });
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
    const signedIn = await binding.authenticate(authenticator, username);
    expect(signedIn.body).toEqual({ status: "ok", errorMessage: "" });
  });

  it("the native API keeps offering only EdDSA, ES256 and RS256", async () => {
    const { registrationOptions, uniqueUsername } = await import("../support/api");
    const native = await registrationOptions({ username: uniqueUsername(), displayName: "Native" });
    expect(native.body.data.pubKeyCredParams.map((p: { alg: number }) => p.alg)).toEqual([-8, -7, -257]);
  });
});

describe("Server-ServerAuthenticatorAttestationResponse-Resp-5 (packed FULL attestation)", () => {
  let ca: TestCA;
  beforeAll(async () => {
    ca = await createTestCA();
  });

  it("P-1: a valid full packed attestation (x5c from a test CA) is accepted", async () => {
    const attestationCertificate = await ca.issueBatch();
    await expectAccepted({ authenticatorOptions: { attestation: "packed", attestationCertificate } });
  });

  it("P-1 with an intermediate: leaf and intermediate in x5c are accepted", async () => {
    const attestationCertificate = await ca.issueBatch({ intermediate: true });
    await expectAccepted({ authenticatorOptions: { attestation: "packed", attestationCertificate } });
  });

  it("a leaf carrying id-fido-gen-ce-aaguid must match the authenticator's AAGUID", async () => {
    const aaguid = crypto.getRandomValues(new Uint8Array(16));
    const matching = await ca.issueBatch({ aaguid });
    await expectAccepted({ authenticatorOptions: { attestation: "packed", attestationCertificate: matching, aaguid } });
    const other = await ca.issueBatch({ aaguid: crypto.getRandomValues(new Uint8Array(16)) });
    await expectRejected({ authenticatorOptions: { attestation: "packed", attestationCertificate: other, aaguid } });
  });

  it("F-1: an unknown fmt is refused", async () => {
    const attestationCertificate = await ca.issueBatch();
    await expectRejected({
      authenticatorOptions: { attestation: "packed", attestationCertificate },
      tamper: attestationObject((o) => ({ ...o, fmt: "BananaPancake" })),
    });
  });

  it("F-2: a signature that does not verify is refused", async () => {
    const attestationCertificate = await ca.issueBatch();
    await expectRejected({
      authenticatorOptions: { attestation: "packed", attestationCertificate },
      client: { corruptSignature: true },
    });
  });

  it.each([
    ["F-3: x5c missing", (s: Record<string, unknown>) => ({ alg: s.alg, sig: s.sig })],
    ["F-4: x5c not an array", (s: Record<string, unknown>) => ({ ...s, x5c: (s.x5c as Uint8Array[])[0] })],
    ["F-5: x5c an empty array", (s: Record<string, unknown>) => ({ ...s, x5c: [] })],
  ])("%s → failed", async (_name, change) => {
    const attestationCertificate = await ca.issueBatch();
    await expectRejected({
      authenticatorOptions: { attestation: "packed", attestationCertificate },
      tamper: attStmt(change),
    });
  });

  it("F-6: an expired leaf certificate is refused", async () => {
    const attestationCertificate = await ca.issueBatch({
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    await expectRejected({ authenticatorOptions: { attestation: "packed", attestationCertificate } });
  });

  it("F-7: a leaf certificate not yet valid is refused", async () => {
    const attestationCertificate = await ca.issueBatch({
      notBefore: new Date(Date.now() + 86_400_000),
      notAfter: new Date(Date.now() + 10 * 86_400_000),
    });
    await expectRejected({ authenticatorOptions: { attestation: "packed", attestationCertificate } });
  });

  it("F-13: a signature that the leaf's public key does not verify (made by another batch key) is refused", async () => {
    const certificate = await ca.issueBatch();
    const otherKey = await ca.issueBatch();
    const result = await expectRejected({
      authenticatorOptions: {
        attestation: "packed",
        attestationCertificate: { ...certificate, privateKey: otherKey.privateKey },
      },
    });
    expect(result.body.errorMessage).toContain("attestation_invalid");
  });

  it("F-14: a full attestation signed with the credential's own private key instead of the batch key is refused", async () => {
    const credential = await credentialKey();
    const batch = await ca.issueBatch();
    const { result } = await binding.registerWith((options) =>
      craftedRegistration(options, {
        fmt: "packed",
        aaguid: new Uint8Array(16),
        credential,
        attStmt: packedStatement(batch.x5c, { privateKey: credential.keys.privateKey, algorithm: "ES256" }),
      }),
    );
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("attestation_invalid");
    // The same statement signed with the batch key passes: only the signing key differs.
    const control = await binding.registerWith((options) =>
      craftedRegistration(options, {
        fmt: "packed",
        aaguid: new Uint8Array(16),
        credential,
        attStmt: packedStatement(batch.x5c, batch),
      }),
    );
    expect(control.result.body).toEqual({ status: "ok", errorMessage: "" });
  });

  it("a leaf whose subject is not OU=Authenticator Attestation is refused", async () => {
    const attestationCertificate = await ca.issueBatch({ subject: "C=US, O=Test Vendor, OU=Sales, CN=Batch" });
    await expectRejected({ authenticatorOptions: { attestation: "packed", attestationCertificate } });
  });
});

// The items that need metadata, run the way docs/conformance.md says to run the FIDO tool:
// ATTESTATION_TRUST = "mds" with the tool's metadata statements loaded as loose statements.
describe("Resp-3, Resp-5 and Resp-6 against metadata statements (ATTESTATION_TRUST = mds)", () => {
  const ADMIN_API_KEY = newKey();
  const mds = bindingClient({ ATTESTATION_TRUST: "mds", ADMIN_API_KEY });
  const statements = mds.metadataAdmin(ADMIN_API_KEY);
  let ca: TestCA;
  beforeAll(async () => {
    ca = await createTestCA("Test Conformance Metadata Root");
  });

  /** Loads one statement for a fresh AAGUID (replacing the previous set) and returns the AAGUID. */
  async function statementFor(
    options: Parameters<typeof metadataStatement>[1] = {},
    extra: Record<string, unknown> = {},
  ) {
    const aaguid = crypto.randomUUID();
    const loaded = await statements.loadStatements([
      { ...metadataStatement(aaguid, { roots: [ca.root], ...options }), ...extra },
    ]);
    expect(loaded.status).toBe(201);
    expect(loaded.body.data.entryCount).toBe(1);
    return aaguid;
  }
  const full = async (aaguid: string, batch: Parameters<TestCA["issueBatch"]>[0] = {}, algorithm?: KeyAlgorithm) => ({
    authenticatorOptions: {
      attestation: "packed" as const,
      attestationCertificate: await ca.issueBatch(batch),
      aaguid: aaguidBytes(aaguid),
      ...(algorithm ? { algorithm } : {}),
    },
  });
  const reasonOf = async (options: Parameters<typeof binding.register>[0]) =>
    (await expectRejected(options, mds)).body.errorMessage;

  it("Resp-5 P-1: a full packed attestation chaining to the statement's root is accepted", async () => {
    const aaguid = await statementFor();
    const { result } = await mds.register(await full(aaguid));
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
  });

  it("Resp-5 P-4: a root with critical basic constraints is accepted", async () => {
    expect(ca.root.getExtension("2.5.29.19")?.critical).toBe(true);
    const aaguid = await statementFor();
    const { result } = await mds.register(await full(aaguid, { intermediate: true }));
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
  });

  it("Resp-5 P-5: a statement with a 64-bit vendorPrototypeConfigCommands value loads and is used", async () => {
    const aaguid = crypto.randomUUID();
    const statement = JSON.stringify(metadataStatement(aaguid, { roots: [ca.root], getInfoAlgorithms: [-7] })).replace(
      '"versions"',
      '"vendorPrototypeConfigCommands":[18446744073709551615],"versions"',
    );
    const loaded = await statements.loadStatements([JSON.parse(statement)]);
    expect(loaded.body.data.entryCount).toBe(1);
    expect((await mds.register(await full(aaguid))).result.body).toEqual({ status: "ok", errorMessage: "" });
  });

  it("Resp-3 F-16: an attestation whose algorithm the statement does not list (RS256 against ES256 only) is refused", async () => {
    const aaguid = await statementFor({ attestationTypes: ["basic_full", "basic_surrogate"] });
    const self = {
      authenticatorOptions: {
        attestation: "packed" as const,
        algorithm: "RS256" as const,
        aaguid: aaguidBytes(aaguid),
      },
    };
    expect(await reasonOf(self)).toContain("algorithm_not_in_metadata:-257");
    expect(await reasonOf(await full(aaguid, {}, "RS256"))).toContain("algorithm_not_in_metadata:-257");
    // The same authenticator with the listed algorithm passes.
    const listed = { authenticatorOptions: { ...self.authenticatorOptions, algorithm: "ES256" as const } };
    expect((await mds.register(listed)).result.body).toEqual({ status: "ok", errorMessage: "" });
  });

  it("Resp-5 F-8: a leaf whose algorithm differs from the statement's (RS256 batch key, getInfo ES256 only) is refused", async () => {
    const aaguid = await statementFor({ getInfoAlgorithms: [-7] });
    expect(await reasonOf(await full(aaguid, { algorithm: "RS256" }))).toContain(
      "attestation_algorithm_not_in_metadata:-257",
    );
    expect((await mds.register(await full(aaguid))).result.body).toEqual({ status: "ok", errorMessage: "" });
  });

  it("Resp-5 F-9: a chain that cannot be verified up to the statement's root is refused", async () => {
    const aaguid = await statementFor();
    const stranger = await createTestCA("Unrelated Root");
    const options = {
      authenticatorOptions: {
        attestation: "packed" as const,
        attestationCertificate: await stranger.issueBatch(),
        aaguid: aaguidBytes(aaguid),
      },
    };
    expect(await reasonOf(options)).toContain("chain_not_to_metadata_root");
  });

  it("Resp-5 F-10: x5c that includes the root is refused", async () => {
    const aaguid = await statementFor();
    expect(await reasonOf(await full(aaguid, { intermediate: true, includeRoot: true }))).toContain(
      "chain_includes_root",
    );
  });

  it("Resp-5 F-11: a full chain in the wrong order is refused (the same chain in order is accepted)", async () => {
    const aaguid = await statementFor();
    expect(await reasonOf(await full(aaguid, { intermediates: 2, misordered: true }))).toContain("chain_misordered");
    expect((await mds.register(await full(aaguid, { intermediates: 2 }))).result.body).toEqual({
      status: "ok",
      errorMessage: "",
    });
  });

  it("Resp-5 F-12: an expired intermediate certificate is refused", async () => {
    const aaguid = await statementFor();
    expect(await reasonOf(await full(aaguid, { intermediate: true, expiredIntermediate: true }))).toContain(
      "chain_not_to_metadata_root",
    );
  });

  it("Resp-6 F-2: a full attestation from a model whose statement declares only self (surrogate) attestation is refused", async () => {
    const aaguid = await statementFor({ attestationTypes: ["basic_surrogate"] });
    expect(await reasonOf(await full(aaguid))).toContain("full_attestation_not_in_metadata");
  });

  it("Resp-6 P-1: self attestation of a model declaring basic_surrogate is accepted", async () => {
    const aaguid = await statementFor({ attestationTypes: ["basic_surrogate"] });
    const { result } = await mds.register({
      authenticatorOptions: { attestation: "packed", aaguid: aaguidBytes(aaguid) },
    });
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
  });
});

describe("Server-ServerAuthenticatorAttestationResponse-Resp-6 (packed SELF attestation)", () => {
  it("P-1: a valid self attestation is accepted", async () => {
    await expectAccepted({ authenticatorOptions: { attestation: "packed" } });
  });

  it("F-1: a self attestation with an invalid signature is refused", async () => {
    await expectRejected({ authenticatorOptions: { attestation: "packed" }, client: { corruptSignature: true } });
  });

  it("F-3: an unknown fmt is refused", async () => {
    await expectRejected({
      authenticatorOptions: { attestation: "packed" },
      tamper: attestationObject((o) => ({ ...o, fmt: "BananaPancake" })),
    });
  });
});

describe('Server-ServerAuthenticatorAttestationResponse-Resp-7 ("none")', () => {
  it("P-1: fmt none, empty attStmt and a zero AAGUID are accepted when none was requested", async () => {
    await expectAccepted({ request: { attestation: "none" }, authenticatorOptions: { attestation: "none" } });
  });

  it("P-2: packed self attestation is accepted although none was requested", async () => {
    await expectAccepted({ request: { attestation: "none" }, authenticatorOptions: { attestation: "packed" } });
  });

  it("F-1: fmt none carrying a non-empty attStmt is refused", async () => {
    await expectRejected({
      authenticatorOptions: { attestation: "packed" },
      tamper: attestationObject((o) => ({ ...o, fmt: "none" })),
    });
  });
});

describe('Server-ServerAuthenticatorAttestationResponse-Resp-8 ("fido-u2f")', () => {
  let ca: TestCA;
  beforeAll(async () => {
    ca = await createTestCA("Test U2F Root");
  });

  it("P-1: a valid fido-u2f attestation is accepted and the credential signs in", async () => {
    const attestationCertificate = await ca.issueBatch({ subject: "CN=U2F Test Batch" });
    const authenticator = await SoftAuthenticator.create({ attestation: "fido-u2f", attestationCertificate });
    const { username, result } = await binding.register({ authenticator });
    expect(result.body).toEqual({ status: "ok", errorMessage: "" });
    const signedIn = await binding.authenticate(authenticator, username);
    expect(signedIn.body).toEqual({ status: "ok", errorMessage: "" });
  });

  it("F-1: an AAGUID that is not all zeros is refused", async () => {
    const attestationCertificate = await ca.issueBatch({ subject: "CN=U2F Test Batch" });
    await expectRejected({
      authenticatorOptions: { attestation: "fido-u2f", attestationCertificate, aaguid: new Uint8Array(16).fill(7) },
    });
  });

  it("F-2: an invalid signature is refused", async () => {
    const attestationCertificate = await ca.issueBatch({ subject: "CN=U2F Test Batch" });
    await expectRejected({
      authenticatorOptions: { attestation: "fido-u2f", attestationCertificate },
      client: { corruptSignature: true },
    });
  });
});
