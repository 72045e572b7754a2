import type { X509Certificate } from "@peculiar/x509";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { CompactSign } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { SoftAuthenticator } from "../authenticator/soft-authenticator";
import { ORIGIN, uniqueUsername } from "../support/api";
import { newKey } from "../support/app-with-env";
import { bindingClient, createTestCA, expectFailed, type TestCA } from "./binding-client";

// Attestation trust with FIDO MDS3 (ATTESTATION_TRUST = "mds") and the Server-MDS3 catalogue
// items, with our own MDS root, our own signed BLOBs and our own authenticator vendor CA.
const ADMIN_API_KEY = newKey();
const admin = { authorization: `Bearer ${ADMIN_API_KEY}` };

const base64 = (certificate: X509Certificate) => isoBase64URL.fromBuffer(new Uint8Array(certificate.rawData), "base64");
const pem = (certificate: X509Certificate) => certificate.toString("pem");
const aaguidBytes = (uuid: string) => isoBase64URL.toBuffer(isoBase64URL.fromBuffer(hex(uuid.replaceAll("-", ""))));
const hex = (value: string) => new Uint8Array(value.match(/../g)?.map((pair) => Number.parseInt(pair, 16)) ?? []);
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

let blobNumber = Math.floor(Date.now() / 1000);
const nextBlobNumber = () => ++blobNumber;

type Entry = Record<string, unknown>;

let mdsRoot: TestCA;
let otherRoot: TestCA;
let vendor: TestCA;

beforeAll(async () => {
  [mdsRoot, otherRoot, vendor] = await Promise.all([
    createTestCA("Test MDS3 Root"),
    createTestCA("Some Other Root"),
    createTestCA("Test Authenticator Vendor Root"),
  ]);
});

/** A metadata BLOB as the FIDO MDS publishes it: a JWS with the signing chain in x5c. */
async function signBlob(
  entries: Entry[],
  options: { signer?: TestCA; no?: number; nextUpdate?: string; corruptSignature?: boolean } = {},
) {
  const signer = await (options.signer ?? mdsRoot).issueBatch({ subject: "CN=Test MDS3 BLOB Signer, O=Test, C=US" });
  const payload = {
    legalHeader: "Test metadata, for tests only.",
    no: options.no ?? nextBlobNumber(),
    nextUpdate: options.nextUpdate ?? inDays(30),
    entries,
  };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: "ES256", typ: "JWT", x5c: [base64(signer.certificate)] })
    .sign(signer.privateKey);
  if (!options.corruptSignature) return jws;
  const [header, body] = jws.split(".");
  return `${header}.${body}.${isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(64)))}`;
}

function entry(
  aaguid: string,
  options: { attestationTypes?: string[]; roots?: X509Certificate[]; status?: string } = {},
): Entry {
  return {
    aaguid,
    metadataStatement: {
      aaguid,
      description: "Test FIDO2 authenticator",
      schema: 3,
      protocolFamily: "fido2",
      attestationTypes: options.attestationTypes ?? ["basic_full"],
      authenticationAlgorithms: ["secp256r1_ecdsa_sha256_raw"],
      attestationRootCertificates: (options.roots ?? [vendor.root]).map(base64),
    },
    statusReports: [{ status: options.status ?? "FIDO_CERTIFIED", effectiveDate: "2024-01-01" }],
    timeOfLastStatusChange: "2024-01-01",
  };
}

function server(overrides: Record<string, string> = {}) {
  const binding = bindingClient({
    ATTESTATION_TRUST: "mds",
    MDS_ROOT_CERT: pem(mdsRoot.root),
    ADMIN_API_KEY,
    ...overrides,
  });
  const load = (blob: string, headers: Record<string, string> = admin) =>
    binding.call("PUT", "/api/v1/admin/metadata", { body: { blob }, headers });
  return { ...binding, load };
}

async function fullAttestation(aaguid: string, options: Parameters<TestCA["issueBatch"]>[0] = {}, ca = vendor) {
  const attestationCertificate = await ca.issueBatch(options);
  return SoftAuthenticator.create({ attestation: "packed", attestationCertificate, aaguid: aaguidBytes(aaguid) });
}

const ok = { status: "ok", errorMessage: "" };

describe("Server-MDS3", () => {
  it("P-1: an authenticator listed in a valid BLOB registers with FULL packed attestation", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    const loaded = await mds.load(await signBlob([entry(aaguid)]));
    expect(loaded.status).toBe(201);
    expect(loaded.body.data.entryCount).toBe(1);
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid) });
    expect(result.body).toEqual(ok);
  });

  it.each([
    "USER_VERIFICATION_BYPASS",
    "ATTESTATION_KEY_COMPROMISE",
    "USER_KEY_REMOTE_COMPROMISE",
    "USER_KEY_PHYSICAL_COMPROMISE",
    "REVOKED",
  ])("F-1: an authenticator whose status report is %s is refused", async (status) => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    expect((await mds.load(await signBlob([entry(aaguid, { status })]))).status).toBe(201);
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid) });
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain(`authenticator_status:${status}`);
  });

  it("F-2: a BLOB whose signature does not verify is refused whole, so its authenticators stay unknown", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    const loaded = await mds.load(await signBlob([entry(aaguid)], { corruptSignature: true }));
    expect(loaded.status).toBe(400);
    expect(loaded.body.error.code).toBe("METADATA_REJECTED");
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid) });
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("no_metadata");
  });

  it("F-3: a BLOB whose certificate chain does not lead to the configured root is refused", async () => {
    const mds = server();
    const loaded = await mds.load(await signBlob([entry(crypto.randomUUID())], { signer: otherRoot }));
    expect(loaded.status).toBe(400);
    expect(loaded.body.error.code).toBe("METADATA_REJECTED");
    expect(loaded.body.error.message).toContain("certificate path");
  });

  it("the FIDO production root is used when MDS_ROOT_CERT is empty: a test BLOB is refused", async () => {
    const mds = server({ MDS_ROOT_CERT: "" });
    const loaded = await mds.load(await signBlob([entry(crypto.randomUUID())]));
    expect(loaded.body.error.code).toBe("METADATA_REJECTED");
  });

  it("MDS_ROOT_CERT may be base64 DER instead of PEM", async () => {
    const mds = server({ MDS_ROOT_CERT: base64(mdsRoot.root) });
    expect((await mds.load(await signBlob([entry(crypto.randomUUID())]))).status).toBe(201);
  });

  it("a BLOB number not higher than the loaded one, and an out-of-date BLOB, are refused", async () => {
    const mds = server();
    const no = nextBlobNumber() + 1000;
    expect((await mds.load(await signBlob([], { no }))).status).toBe(201);
    const repeat = await mds.load(await signBlob([], { no }));
    expect(repeat.status).toBe(400);
    expect(repeat.body.error.message).toContain("not higher");
    const outdated = await mds.load(await signBlob([], { no: no + 1, nextUpdate: inDays(-2) }));
    expect(outdated.body.error.message).toContain("out of date");
    const current = await mds.call("GET", "/api/v1/admin/metadata", { headers: admin });
    expect(current.body.data).toMatchObject({ no, entryCount: 0 });
    blobNumber = no + 1;
  });

  it.each([
    ["no key", {}],
    ["a wrong key", { authorization: `Bearer ${newKey()}` }],
    ["a malformed header", { authorization: ADMIN_API_KEY }],
  ])("loading a BLOB with %s is refused with 401", async (_name, headers) => {
    const mds = server();
    const response = await mds.load(await signBlob([]), headers);
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("UNAUTHORIZED");
  });

  it("without ADMIN_API_KEY configured nobody may load a BLOB", async () => {
    const mds = server({ ADMIN_API_KEY: "" });
    expect((await mds.load(await signBlob([]))).status).toBe(401);
  });

  it.each([
    ["not a JWT", "not-a-jwt"],
    ["a JWT whose header has no x5c", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA"],
  ])("a body with %s is refused as a 4xx", async (_name, blob) => {
    const response = await server().load(blob);
    expect(response.status).toBe(400);
  });
});

describe("ATTESTATION_TRUST = mds at registration", () => {
  it("Resp-5 P-2: a chain through an intermediate to the statement's root is accepted", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    await mds.load(await signBlob([entry(aaguid)]));
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid, { intermediate: true }) });
    expect(result.body).toEqual(ok);
  });

  it("Resp-5 P-3: a batch certificate that is itself the statement's trust anchor is accepted", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    const attestationCertificate = await vendor.issueBatch();
    await mds.load(await signBlob([entry(aaguid, { roots: [attestationCertificate.certificate] })]));
    const authenticator = await SoftAuthenticator.create({
      attestation: "packed",
      attestationCertificate,
      aaguid: aaguidBytes(aaguid),
    });
    expect((await mds.register({ authenticator })).result.body).toEqual(ok);
  });

  it("Resp-5 F-9: a chain that does not lead to the statement's root is refused", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    await mds.load(await signBlob([entry(aaguid)]));
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid, {}, otherRoot) });
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("chain_not_to_metadata_root");
  });

  it("Resp-5 F-10: x5c carrying the full chain including the root is refused", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    await mds.load(await signBlob([entry(aaguid)]));
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid, { includeRoot: true }) });
    expectFailed(result, expect);
  });

  it("Resp-6 F-2: a full attestation from a model whose metadata declares only self attestation is refused", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    await mds.load(await signBlob([entry(aaguid, { attestationTypes: ["basic_surrogate"] })]));
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid) });
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("full_attestation_not_in_metadata");
  });

  it("Resp-6 P-1 under mds: self attestation of a model declaring basic_surrogate is accepted; of an unlisted model refused", async () => {
    const mds = server();
    const listed = crypto.randomUUID();
    await mds.load(await signBlob([entry(listed, { attestationTypes: ["basic_surrogate"] })]));
    const self = (aaguid: string) => SoftAuthenticator.create({ attestation: "packed", aaguid: aaguidBytes(aaguid) });
    expect((await mds.register({ authenticator: await self(listed) })).result.body).toEqual(ok);
    const unlisted = await mds.register({ authenticator: await self(crypto.randomUUID()) });
    expectFailed(unlisted.result, expect);
  });

  it("an attested AAGUID without metadata is refused; a none attestation (which claims nothing) is accepted", async () => {
    const mds = server();
    const unknown = await mds.register({ authenticator: await fullAttestation(crypto.randomUUID()) });
    expectFailed(unknown.result, expect);
    expect(unknown.result.body.errorMessage).toContain("no_metadata");
    const none = await mds.register({ request: { attestation: "none" } });
    expect(none.result.body).toEqual(ok);
  });

  it("fido-u2f: trusted through the entry of its attestation key identifier", async () => {
    const mds = server();
    const attestationCertificate = await vendor.issueBatch({ subject: "CN=U2F Batch" });
    // RFC 5280 key identifier (SHA-1 of the public key bits), as @peculiar/x509 computes it.
    const keyIdentifier = [...new Uint8Array(await attestationCertificate.certificate.publicKey.getKeyIdentifier())]
      .map((byte) => byte.toString(16).padStart(2, "0"))
      .join("");
    const u2fEntry = {
      attestationCertificateKeyIdentifiers: [keyIdentifier],
      metadataStatement: {
        attestationCertificateKeyIdentifiers: [keyIdentifier],
        description: "Test U2F key",
        protocolFamily: "u2f",
        attestationTypes: ["basic_full"],
        authenticationAlgorithms: ["secp256r1_ecdsa_sha256_raw"],
        attestationRootCertificates: [base64(vendor.root)],
      },
      statusReports: [{ status: "FIDO_CERTIFIED" }],
      timeOfLastStatusChange: "2024-01-01",
    };
    await mds.load(await signBlob([u2fEntry]));
    const listed = await SoftAuthenticator.create({ attestation: "fido-u2f", attestationCertificate });
    expect((await mds.register({ authenticator: listed })).result.body).toEqual(ok);
    const other = await SoftAuthenticator.create({
      attestation: "fido-u2f",
      attestationCertificate: await vendor.issueBatch({ subject: "CN=Unlisted U2F Batch" }),
    });
    expectFailed((await mds.register({ authenticator: other })).result, expect);
  });

  it("the native API applies the same policy", async () => {
    const mds = server();
    const authenticator = await fullAttestation(crypto.randomUUID());
    const username = uniqueUsername("native-mds");
    const options = await mds.call("POST", "/api/v1/registration/challenge", {
      body: { username, displayName: username, attestation: "direct" },
    });
    const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
    const verified = await mds.call("POST", "/api/v1/registration/verify", { body: { credential } });
    expect(verified.status).toBe(400);
    expect(verified.body.error.code).toBe("REGISTRATION_FAILED");
  });
});

describe("AAGUID allow and deny lists", () => {
  it("the deny list refuses an AAGUID even when it is only claimed (none attestation), under either policy", async () => {
    const denied = crypto.randomUUID();
    for (const policy of ["none", "mds"]) {
      const binding = server({
        ATTESTATION_TRUST: policy,
        AAGUID_DENYLIST: `${crypto.randomUUID()}, ${denied.toUpperCase()}`,
      });
      const { result } = await binding.register({ authenticatorOptions: { aaguid: aaguidBytes(denied) } });
      expectFailed(result, expect);
      expect(result.body.errorMessage).toContain("aaguid_denied");
    }
  });

  it("the allow list admits only listed AAGUIDs that the attestation proved", async () => {
    const allowed = crypto.randomUUID();
    const unlisted = crypto.randomUUID();
    const mds = server({ AAGUID_ALLOWLIST: allowed });
    await mds.load(await signBlob([entry(allowed), entry(unlisted)]));
    expect((await mds.register({ authenticator: await fullAttestation(allowed) })).result.body).toEqual(ok);

    const notListed = await mds.register({ authenticator: await fullAttestation(unlisted) });
    expect(notListed.result.body.errorMessage).toContain("aaguid_not_allowed");
    // Claiming the allowed AAGUID without proof is not enough.
    const claimed = await mds.register({ authenticatorOptions: { aaguid: aaguidBytes(allowed) } });
    expect(claimed.result.body.errorMessage).toContain("aaguid_not_attested");
  });

  it("an allow list without ATTESTATION_TRUST = mds is a configuration error naming the variable", async () => {
    const binding = server({ ATTESTATION_TRUST: "none", AAGUID_ALLOWLIST: crypto.randomUUID() });
    const response = await binding.call("GET", "/api/v1/health");
    expect(response.status).toBe(500);
    expect(response.body.error.code).toBe("CONFIGURATION_ERROR");
    expect(response.body.error.details).toEqual({ variables: ["AAGUID_ALLOWLIST"] });
  });
});
