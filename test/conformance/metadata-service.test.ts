import type { X509Certificate } from "@peculiar/x509";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { CompactSign } from "jose";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { SoftAuthenticator } from "../authenticator/soft-authenticator";
import { api, bearer, ORIGIN, registrationOptions, uniqueUsername } from "../support/api";
import { newKey, testWorker } from "../support/test-worker";
import {
  aaguidBytes,
  base64Certificate,
  bindingClient,
  createTestCA,
  expectFailed,
  type Issuer,
  metadataStatement,
  type TestCA,
} from "./binding-client";

// Attestation trust with FIDO MDS3 (ATTESTATION_TRUST = "mds") and the Server-MDS3 catalogue
// items, with our own MDS root, our own signed BLOBs, our own CRLs and our own authenticator
// vendor CA. Each test loads its BLOB under a source name of its own, so tests never see each
// other's entries (except the scheduled refresh, which owns the "mds" source).
const ADMIN_API_KEY = newKey();
const admin = { authorization: `Bearer ${ADMIN_API_KEY}` };

const pem = (certificate: X509Certificate) => certificate.toString("pem");
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
let sourceCount = 0;
const uniqueSource = () => `test-${Date.now().toString(36)}-${(sourceCount++).toString(36)}`;

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

/** Security event lines the Worker logged (the JSON log is the audit trail). */
let lines: string[] = [];
beforeEach(() => {
  lines = [];
  for (const method of ["log", "info", "warn", "error"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
  }
});
afterEach(() => vi.restoreAllMocks());

const securityEvents = (event: string) =>
  lines
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.type === "security_event" && line.event === event);

/**
 * The network as the Worker sees it: these URLs answer with these bodies, anything else is
 * unreachable. Only the network is replaced — SimpleWebAuthn fetches CRLs itself, and the
 * scheduled refresh fetches MDS_URL, exactly as they would on the edge.
 */
function serve(routes: Record<string, BodyInit | (() => Response)>): string[] {
  const requested: string[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL) => {
    const url = input instanceof Request ? input.url : String(input);
    requested.push(url);
    const route = routes[url];
    if (route === undefined) throw new TypeError(`network error: no route to ${url}`);
    return typeof route === "function" ? route() : new Response(route);
  });
  return requested;
}

/** A metadata BLOB as the FIDO MDS publishes it: a JWS with the signing chain in x5c. */
async function signBlob(
  entries: Entry[],
  options: {
    signer?: TestCA;
    no?: number;
    nextUpdate?: string;
    corruptSignature?: boolean;
    /** Sign through an intermediate, with CRL distribution points (signer's CRL, intermediate's CRL). */
    crlUrls?: { leaf: string; intermediates: string };
    onChain?: (chain: { signer: X509Certificate; intermediate?: Issuer }) => void;
  } = {},
) {
  const signer = await (options.signer ?? mdsRoot).issueBatch({
    subject: `CN=Test MDS3 BLOB Signer ${nextBlobNumber()}, O=Test, C=US`,
    intermediate: Boolean(options.crlUrls),
    crlUrls: options.crlUrls,
  });
  options.onChain?.({ signer: signer.certificate, intermediate: signer.intermediates[0] });
  const payload = {
    legalHeader: "Test metadata, for tests only.",
    no: options.no ?? nextBlobNumber(),
    nextUpdate: options.nextUpdate ?? inDays(30),
    entries,
  };
  const x5c = [signer.certificate, ...signer.intermediates.map((i) => i.certificate)].map(base64Certificate);
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: "ES256", typ: "JWT", x5c })
    .sign(signer.privateKey);
  if (!options.corruptSignature) return jws;
  const [header, body] = jws.split(".");
  return `${header}.${body}.${isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(64)))}`;
}

function entry(
  aaguid: string,
  options: { attestationTypes?: string[]; roots?: X509Certificate[]; status?: string; icon?: string } = {},
): Entry {
  return {
    aaguid,
    metadataStatement: metadataStatement(aaguid, {
      attestationTypes: options.attestationTypes,
      roots: options.roots ?? [vendor.root],
      icon: options.icon,
    }),
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
  const metadata = binding.metadataAdmin(ADMIN_API_KEY);
  const load = (blob: string, source: string | undefined = uniqueSource(), headers: Record<string, string> = admin) =>
    binding.api("PUT", "/api/v1/admin/metadata", source ? { blob, source } : { blob }, headers);
  /** Loads and insists it was accepted. */
  const loaded = async (blob: string, source = uniqueSource()) => {
    const response = await load(blob, source);
    expect(response.body.error).toBeUndefined();
    expect(response.status).toBe(201);
    return response;
  };
  return { ...binding, ...metadata, load, loaded };
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
    const loaded = await mds.loaded(await signBlob([entry(aaguid)]));
    expect(loaded.body.data).toMatchObject({ kind: "blob", entryCount: 1, skippedCount: 0 });
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
    await mds.loaded(await signBlob([entry(aaguid, { status })]));
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
    expect(loaded.body.error.message).toContain("signature");
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

  // F-4/F-5: the BLOB is signed through an intermediate; each certificate names where its
  // issuer's CRL is, and SimpleWebAuthn fetches those CRLs (real ones, signed by the test CA).
  async function revocationCase(revoke: "none" | "intermediate" | "signer") {
    const urls = {
      leaf: `https://crl.test/${uniqueSource()}/signer.crl`,
      intermediates: `https://crl.test/${uniqueSource()}/ica.crl`,
    };
    let chain: { signer: X509Certificate; intermediate?: Issuer } | undefined;
    const aaguid = crypto.randomUUID();
    const blob = await signBlob([entry(aaguid)], { crlUrls: urls, onChain: (c) => (chain = c) });
    if (!chain?.intermediate) throw new Error("expected a signing chain with an intermediate");
    const requested = serve({
      [urls.intermediates]: await mdsRoot.crl(revoke === "intermediate" ? [chain.intermediate.certificate] : []),
      [urls.leaf]: await mdsRoot.crl(revoke === "signer" ? [chain.signer] : [], chain.intermediate),
    });
    const mds = server();
    return { mds, aaguid, requested, loaded: await mds.load(blob) };
  }

  it("the signing chain's CRLs are fetched and checked: with nothing revoked the BLOB loads", async () => {
    const { loaded, requested } = await revocationCase("none");
    expect(loaded.status).toBe(201);
    expect(requested.some((url) => url.endsWith("/signer.crl"))).toBe(true);
    expect(requested.some((url) => url.endsWith("/ica.crl"))).toBe(true);
  });

  it("F-4: a BLOB whose intermediate certificate is revoked is refused, so its authenticators stay unknown", async () => {
    const { mds, aaguid, loaded } = await revocationCase("intermediate");
    expect(loaded.status).toBe(400);
    expect(loaded.body.error.code).toBe("METADATA_REJECTED");
    expect(loaded.body.error.message).toContain("revocation");
    vi.restoreAllMocks();
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid) });
    expect(result.body.errorMessage).toContain("no_metadata");
  });

  it("F-5: a BLOB whose signing certificate is revoked is refused", async () => {
    const { loaded } = await revocationCase("signer");
    expect(loaded.status).toBe(400);
    expect(loaded.body.error.code).toBe("METADATA_REJECTED");
    expect(loaded.body.error.message).toContain("revocation");
  });

  it("the FIDO production root is used when MDS_ROOT_CERT is empty: a test BLOB is refused", async () => {
    const mds = server({ MDS_ROOT_CERT: "" });
    const loaded = await mds.load(await signBlob([entry(crypto.randomUUID())]));
    expect(loaded.body.error.code).toBe("METADATA_REJECTED");
    expect(loaded.body.error.message).toContain("certificate path");
  });

  it("MDS_ROOT_CERT may be base64 DER instead of PEM", async () => {
    const mds = server({ MDS_ROOT_CERT: base64Certificate(mdsRoot.root) });
    await mds.loaded(await signBlob([entry(crypto.randomUUID())]));
  });

  it("per source, a BLOB number not higher than the loaded one, and an out-of-date BLOB, are refused", async () => {
    const mds = server();
    const source = uniqueSource();
    const no = nextBlobNumber();
    await mds.loaded(await signBlob([], { no }), source);
    const repeat = await mds.load(await signBlob([], { no }), source);
    expect(repeat.status).toBe(400);
    expect(repeat.body.error.message).toContain("not higher");
    const outdated = await mds.load(await signBlob([], { no: nextBlobNumber(), nextUpdate: inDays(-2) }), source);
    expect(outdated.status).toBe(400);
    expect(outdated.body.error.message).toContain("out of date");
    // Another source has its own numbering.
    await mds.loaded(await signBlob([], { no }));
    const sources = await mds.sources();
    expect(sources.body.data.sources).toContainEqual(
      expect.objectContaining({ source, kind: "blob", no, entryCount: 0 }),
    );
  });

  it.each([
    ["no key", {}],
    ["a wrong key", { authorization: `Bearer ${newKey()}` }],
    ["a malformed header", { authorization: ADMIN_API_KEY }],
  ])("loading a BLOB with %s is refused with 401", async (_name, headers) => {
    const mds = server();
    const response = await mds.load(await signBlob([]), uniqueSource(), headers);
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("UNAUTHORIZED");
  });

  it("without ADMIN_API_KEY configured nobody may load a BLOB", async () => {
    const mds = server({ ADMIN_API_KEY: "" });
    expect((await mds.load(await signBlob([]))).status).toBe(401);
  });

  it.each([
    ["not a JWT", { blob: "not-a-jwt" }, "blob"],
    ["a JWT whose header has no x5c", { blob: "eyJhbGciOiJFUzI1NiJ9.e30.AAAA" }, null],
    ["a bad source name", { blob: "a.b.c", source: "Not A Name" }, "source"],
    ["the statements source's name", { blob: "a.b.c", source: "statements" }, "source"],
  ])("a body with %s is refused as a 4xx", async (_name, body, path) => {
    const response = await server().api("PUT", "/api/v1/admin/metadata", body, admin);
    expect(response.status).toBe(400);
    if (path) expect(response.body.error.details).toContainEqual(expect.objectContaining({ path }));
  });
});

describe("BLOB contents", () => {
  it("an AAGUID listed in two entries loads; it is trusted when either entry vouches for the chain", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    const loaded = await mds.loaded(
      await signBlob([entry(aaguid, { roots: [otherRoot.root] }), entry(aaguid, { roots: [vendor.root] })]),
    );
    expect(loaded.body.data.entryCount).toBe(2);
    expect((await mds.register({ authenticator: await fullAttestation(aaguid) })).result.body).toEqual(ok);
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid, {}, mdsRoot) });
    // Neither vouches: the first entry's reason is given.
    expect(result.body.errorMessage).toContain("chain_not_to_metadata_root");
  });

  it.each([
    ["first", ["REVOKED", "FIDO_CERTIFIED"]],
    ["second", ["FIDO_CERTIFIED", "REVOKED"]],
  ])("an AAGUID listed twice with a compromised status in the %s entry is refused", async (_name, statuses) => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    await mds.loaded(await signBlob(statuses.map((status) => entry(aaguid, { status }))));
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid) });
    expect(result.body.errorMessage).toContain("authenticator_status:REVOKED");
  });

  it("a U2F key identifier listed in two entries loads", async () => {
    const mds = server();
    const keyIdentifier = "0123456789abcdef0123456789abcdef01234567";
    const u2f = { attestationCertificateKeyIdentifiers: [keyIdentifier] };
    const statement = { ...metadataStatement(crypto.randomUUID(), { roots: [vendor.root] }), aaguid: undefined };
    const twice = [1, 2].map(() => ({ ...u2f, metadataStatement: { ...statement, ...u2f }, statusReports: [] }));
    const loaded = await mds.loaded(await signBlob(twice));
    expect(loaded.body.data.entryCount).toBe(2);
  });

  it("entries that cannot be used are skipped, each with its reason, and the rest load", async () => {
    const mds = server();
    const good = crypto.randomUUID();
    const uaf = {
      aaid: "FFFF#0001",
      metadataStatement: { aaid: "FFFF#0001", attestationTypes: ["basic_full"] },
      statusReports: [],
    };
    const noAlgorithms = entry(crypto.randomUUID());
    delete (noAlgorithms.metadataStatement as Record<string, unknown>).authenticationAlgorithms;
    const loaded = await mds.loaded(await signBlob([uaf, entry(good), noAlgorithms, { aaguid: crypto.randomUUID() }]));
    expect(loaded.body.data.entryCount).toBe(1);
    expect(loaded.body.data.skippedCount).toBe(3);
    expect(loaded.body.data.skipped.map((skipped: { position: number }) => skipped.position)).toEqual([0, 2, 3]);
    expect(loaded.body.data.skipped[1].reason).toContain("authenticationAlgorithms");
    expect((await mds.register({ authenticator: await fullAttestation(good) })).result.body).toEqual(ok);
  });

  it("a production-sized BLOB (several MB, over a thousand entries with icons) loads through the admin endpoint", async () => {
    const mds = server();
    const icon = `data:image/png;base64,${isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(1500)), "base64")}`;
    const padding = "x".repeat(2000);
    const aaguids = Array.from({ length: 1200 }, () => crypto.randomUUID());
    const entries = aaguids.map((aaguid) => {
      const big = entry(aaguid, { icon });
      (big.metadataStatement as Record<string, unknown>).legalHeader = padding;
      return big;
    });
    const blob = await signBlob(entries);
    expect(blob.length).toBeGreaterThan(4 * 1024 * 1024);
    const loaded = await mds.loaded(blob);
    expect(loaded.body.data.entryCount).toBe(1200);
    const last = aaguids.at(-1) as string;
    expect((await mds.register({ authenticator: await fullAttestation(last) })).result.body).toEqual(ok);
  });

  it("only the metadata routes take more than 64 KiB", async () => {
    const mds = server();
    const big = { username: "x".repeat(70 * 1024), displayName: "Big" };
    const response = await mds.api("POST", "/api/v1/registration/challenge", big);
    expect(response.status).toBe(413);
  });
});

describe("loose metadata statements (a test aid: the conformance tool's metadata download)", () => {
  it("load as the statements source, are trust anchors under mds, and can be removed again", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    const loaded = await mds.loadStatements([metadataStatement(aaguid, { roots: [vendor.root] })]);
    expect(loaded.status).toBe(201);
    expect(loaded.body.data).toMatchObject({ source: "statements", kind: "statements", no: null, entryCount: 1 });
    expect(
      (await mds.register({ authenticator: await fullAttestation(aaguid, { intermediate: true }) })).result.body,
    ).toEqual(ok);

    const listed = await mds.sources();
    expect(listed.body.data.sources).toContainEqual(
      expect.objectContaining({ source: "statements", kind: "statements" }),
    );
    expect((await mds.remove("statements")).status).toBe(200);
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid) });
    expect(result.body.errorMessage).toContain("no_metadata");
    expect((await mds.remove("statements")).status).toBe(404);
  });

  it("replace the previous set as a whole", async () => {
    const mds = server();
    const [first, second] = [crypto.randomUUID(), crypto.randomUUID()];
    await mds.loadStatements([metadataStatement(first, { roots: [vendor.root] })]);
    await mds.loadStatements([metadataStatement(second, { roots: [vendor.root] })]);
    expect((await mds.register({ authenticator: await fullAttestation(second) })).result.body).toEqual(ok);
    expect((await mds.register({ authenticator: await fullAttestation(first) })).result.body.errorMessage).toContain(
      "no_metadata",
    );
  });

  it("statements without an AAGUID or key identifier (UAF) are skipped; a body that is not a list is refused", async () => {
    const mds = server();
    const uaf = {
      aaid: "FFFF#0002",
      attestationTypes: ["basic_full"],
      authenticationAlgorithms: ["secp256r1_ecdsa_sha256_raw"],
      attestationRootCertificates: [],
    };
    const loaded = await mds.loadStatements([uaf, metadataStatement(crypto.randomUUID())]);
    expect(loaded.body.data).toMatchObject({ entryCount: 1, skippedCount: 1 });
    expect(loaded.body.data.skipped[0].reason).toContain("no aaguid");
    const refused = await mds.api("PUT", "/api/v1/admin/metadata/statements", { statements: "x" }, admin);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("VALIDATION_ERROR");
  });
});

describe("every metadata admin action is a security event", () => {
  it("viewing, loading, a refused load and removing each record one, with reason admin_api", async () => {
    const mds = server();
    await mds.sources();
    await mds.loaded(await signBlob([]));
    await mds.load(await signBlob([], { corruptSignature: true }));
    await mds.loadStatements([]);
    await mds.remove("statements");
    await mds.remove("no-such-source");
    expect(securityEvents("admin_metadata_viewed")).toEqual([
      expect.objectContaining({ outcome: "success", reason: "admin_api" }),
    ]);
    expect(securityEvents("admin_metadata_loaded").map((e) => [e.outcome, e.reason])).toEqual([
      ["success", "admin_api"],
      ["failure", "admin_api:metadata_rejected"],
      ["success", "admin_api"],
    ]);
    expect(securityEvents("admin_metadata_removed").map((e) => [e.outcome, e.reason])).toEqual([
      ["success", "admin_api"],
      ["failure", "admin_api:not_found"],
    ]);
  });
});

describe("authenticator icons from metadata (GET /api/v1/credentials)", () => {
  it("a passkey shows its model's icon once metadata with one is loaded; an SVG icon is not kept", async () => {
    const mds = server();
    const [withPng, withSvg] = [crypto.randomUUID(), crypto.randomUUID()];
    const png = `data:image/png;base64,${isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(64)), "base64")}`;
    const svg = `data:image/svg+xml;base64,${btoa("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")}`;
    await mds.loadStatements([metadataStatement(withPng, { icon: png }), metadataStatement(withSvg, { icon: svg })]);

    const icons: (string | null)[] = [];
    for (const aaguid of [withPng, withSvg, crypto.randomUUID()]) {
      const authenticator = await SoftAuthenticator.create({ aaguid: aaguidBytes(aaguid) });
      const username = uniqueUsername("icon");
      const options = await registrationOptions({ username, displayName: username });
      const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
      const verified = await api("POST", "/api/v1/registration/verify", { credential });
      expect(verified.status).toBe(201);
      const listed = await api("GET", "/api/v1/credentials", undefined, bearer(verified.body.data.token));
      icons.push(listed.body.data.credentials[0].authenticator.icon);
    }
    expect(icons).toEqual([png, null, null]);
  });
});

describe("ATTESTATION_TRUST = mds at registration", () => {
  it("Resp-5 P-2: a chain through an intermediate to the statement's root is accepted", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    await mds.loaded(await signBlob([entry(aaguid)]));
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid, { intermediate: true }) });
    expect(result.body).toEqual(ok);
  });

  it("Resp-5 P-3: a batch certificate that is itself the statement's trust anchor is accepted", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    const attestationCertificate = await vendor.issueBatch();
    await mds.loaded(await signBlob([entry(aaguid, { roots: [attestationCertificate.certificate] })]));
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
    await mds.loaded(await signBlob([entry(aaguid)]));
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid, {}, otherRoot) });
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("chain_not_to_metadata_root");
  });

  it("Resp-5 F-10: x5c carrying the full chain including the root is refused for carrying the root", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    await mds.loaded(await signBlob([entry(aaguid)]));
    const { result } = await mds.register({
      authenticator: await fullAttestation(aaguid, { intermediate: true, includeRoot: true }),
    });
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("chain_includes_root");
  });

  it("Resp-6 F-2: a full attestation from a model whose metadata declares only self attestation is refused", async () => {
    const mds = server();
    const aaguid = crypto.randomUUID();
    await mds.loaded(await signBlob([entry(aaguid, { attestationTypes: ["basic_surrogate"] })]));
    const { result } = await mds.register({ authenticator: await fullAttestation(aaguid) });
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain("full_attestation_not_in_metadata");
  });

  it("Resp-6 P-1 under mds: self attestation of a model declaring basic_surrogate is accepted; of an unlisted model refused", async () => {
    const mds = server();
    const listed = crypto.randomUUID();
    await mds.loaded(await signBlob([entry(listed, { attestationTypes: ["basic_surrogate"] })]));
    const self = (aaguid: string) => SoftAuthenticator.create({ attestation: "packed", aaguid: aaguidBytes(aaguid) });
    expect((await mds.register({ authenticator: await self(listed) })).result.body).toEqual(ok);
    const unlisted = await mds.register({ authenticator: await self(crypto.randomUUID()) });
    expectFailed(unlisted.result, expect);
    expect(unlisted.result.body.errorMessage).toContain("no_metadata");
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
        attestationRootCertificates: [base64Certificate(vendor.root)],
      },
      statusReports: [{ status: "FIDO_CERTIFIED" }],
      timeOfLastStatusChange: "2024-01-01",
    };
    await mds.loaded(await signBlob([u2fEntry]));
    const listed = await SoftAuthenticator.create({ attestation: "fido-u2f", attestationCertificate });
    expect((await mds.register({ authenticator: listed })).result.body).toEqual(ok);
    const other = await SoftAuthenticator.create({
      attestation: "fido-u2f",
      attestationCertificate: await vendor.issueBatch({ subject: "CN=Unlisted U2F Batch" }),
    });
    const refused = (await mds.register({ authenticator: other })).result;
    expectFailed(refused, expect);
    expect(refused.body.errorMessage).toContain("no_metadata");
  });

  it("the native API applies the same policy", async () => {
    const mds = server();
    const authenticator = await fullAttestation(crypto.randomUUID());
    const username = uniqueUsername("native-mds");
    const options = await mds.api("POST", "/api/v1/registration/challenge", {
      username,
      displayName: username,
      attestation: "direct",
    });
    const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
    const verified = await mds.api("POST", "/api/v1/registration/verify", { credential });
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
    await mds.loaded(await signBlob([entry(allowed), entry(unlisted)]));
    expect((await mds.register({ authenticator: await fullAttestation(allowed) })).result.body).toEqual(ok);

    const notListed = await mds.register({ authenticator: await fullAttestation(unlisted) });
    expect(notListed.result.body.errorMessage).toContain("aaguid_not_allowed");
    // Claiming the allowed AAGUID without proof is not enough.
    const claimed = await mds.register({ authenticatorOptions: { aaguid: aaguidBytes(allowed) } });
    expect(claimed.result.body.errorMessage).toContain("aaguid_not_attested");
  });

  it("an allow list without ATTESTATION_TRUST = mds is a configuration error naming the variable", async () => {
    const binding = server({ ATTESTATION_TRUST: "none", AAGUID_ALLOWLIST: crypto.randomUUID() });
    const response = await binding.api("GET", "/api/v1/health");
    expect(response.status).toBe(500);
    expect(response.body.error.code).toBe("CONFIGURATION_ERROR");
    expect(response.body.error.details).toEqual({ variables: ["AAGUID_ALLOWLIST"] });
  });
});

describe("scheduled refresh from MDS_URL (the cron trigger)", () => {
  const MDS_URL = "https://mds.test/blob.jwt";

  const cron = () =>
    testWorker({ env: { ATTESTATION_TRUST: "mds", MDS_ROOT_CERT: pem(mdsRoot.root), MDS_URL } }).scheduled();
  const mdsSource = async () =>
    (await server().sources()).body.data.sources.find((source: { source: string }) => source.source === "mds");
  /** An operator-loaded "mds" BLOB whose nextUpdate is today: the refresh is due. */
  async function dueBlobLoaded() {
    const no = nextBlobNumber();
    await server().loaded(await signBlob([], { no, nextUpdate: inDays(0) }), "mds");
    return no;
  }

  it("loads the BLOB when none is loaded, and does not fetch again before its nextUpdate", async () => {
    await server().remove("mds");
    const aaguid = crypto.randomUUID();
    const no = nextBlobNumber();
    const requested = serve({ [MDS_URL]: await signBlob([entry(aaguid)], { no, nextUpdate: inDays(20) }) });
    await cron();
    expect(requested).toEqual([MDS_URL]);
    expect(await mdsSource()).toMatchObject({ kind: "blob", no, entryCount: 1, checkedAt: expect.any(String) });
    expect(securityEvents("metadata_refreshed")).toEqual([
      expect.objectContaining({ outcome: "success", reason: "scheduled" }),
    ]);
    expect((await server().register({ authenticator: await fullAttestation(aaguid) })).result.body).toEqual(ok);

    await cron();
    expect(requested).toEqual([MDS_URL]);
  });

  it("once nextUpdate has come, a newer BLOB replaces the loaded one, and the next look is an hour later", async () => {
    await dueBlobLoaded();
    const newer = nextBlobNumber();
    const requested = serve({ [MDS_URL]: await signBlob([], { no: newer, nextUpdate: inDays(0) }) });
    await cron();
    expect(requested).toEqual([MDS_URL]);
    expect(await mdsSource()).toMatchObject({ no: newer });
    await cron();
    expect(requested).toEqual([MDS_URL]);
  });

  it("a BLOB that is not newer is ignored, and looked for again no sooner than an hour later", async () => {
    const no = await dueBlobLoaded();
    const requested = serve({ [MDS_URL]: await signBlob([], { no, nextUpdate: inDays(0) }) });
    await cron();
    expect(requested).toEqual([MDS_URL]);
    expect(await mdsSource()).toMatchObject({ no, checkedAt: expect.any(String) });
    expect(securityEvents("metadata_refreshed")).toEqual([]);
    await cron();
    expect(requested).toEqual([MDS_URL]);
  });

  it("a failed fetch changes nothing, is a failed security event, and is not retried at once", async () => {
    const no = await dueBlobLoaded();
    const requested = serve({ [MDS_URL]: () => new Response("unavailable", { status: 503 }) });
    await cron();
    expect(await mdsSource()).toMatchObject({ no });
    expect(securityEvents("metadata_refreshed")).toEqual([
      expect.objectContaining({ outcome: "failure", reason: "scheduled:metadata_rejected" }),
    ]);
    await cron();
    expect(requested).toEqual([MDS_URL]);
  });

  it("MDS_URL must be https", async () => {
    const response = await server({ MDS_URL: "http://mds.test/blob.jwt" }).api("GET", "/api/v1/health");
    expect(response.status).toBe(500);
    expect(response.body.error.details).toEqual({ variables: ["MDS_URL"] });
  });
});
