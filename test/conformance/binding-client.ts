import * as x509 from "@peculiar/x509";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { generateKeyPair } from "../authenticator/cose";
import {
  type AttestationCertificate,
  type AuthenticatorOptions,
  type ClientOverrides,
  SoftAuthenticator,
} from "../authenticator/soft-authenticator";
import { ORIGIN, uniqueUsername } from "../support/api";
import { testWorker } from "../support/test-worker";

// biome-ignore lint/suspicious/noExplicitAny: binding bodies are read ad hoc and asserted on.
type Loose = any;

/**
 * A client of the FIDO conformance binding, doing what the FIDO conformance tools do: the
 * four POSTs, a fresh username per registration, our software authenticator in place of
 * their virtual one.
 */
export function bindingClient(overrides: Partial<Record<keyof Env, unknown>> = {}) {
  const worker = testWorker({ env: { CONFORMANCE_API: "true", ...overrides } });
  const post = async (path: string, body: unknown): Promise<{ status: number; headers: Headers; body: Loose }> =>
    worker.api("POST", path, body);

  async function creationOptions(body: Record<string, unknown>) {
    return post("/attestation/options", body);
  }

  /** Options, attestation, result: the whole registration; returns the result response too. */
  async function register(
    options: {
      username?: string;
      authenticator?: SoftAuthenticator;
      authenticatorOptions?: AuthenticatorOptions;
      request?: Record<string, unknown>;
      client?: Partial<ClientOverrides>;
      /** Changes the credential JSON before it is posted (negative tests). */
      tamper?: (credential: Record<string, unknown>) => unknown;
    } = {},
  ) {
    const username = options.username ?? uniqueUsername("fido");
    const authenticator = options.authenticator ?? (await SoftAuthenticator.create(options.authenticatorOptions));
    const created = await creationOptions({
      username,
      displayName: `Display ${username}`,
      attestation: "direct",
      ...options.request,
    });
    if (created.status !== 200) throw new Error(`attestation/options failed: ${JSON.stringify(created.body)}`);
    const credential = await authenticator.register(created.body, { origin: ORIGIN, ...options.client });
    const json = structuredClone(credential) as unknown as Record<string, unknown>;
    const result = await post("/attestation/result", options.tamper ? options.tamper(json) : json);
    return { username, authenticator, options: created.body, result };
  }

  async function getOptions(body: Record<string, unknown>) {
    return post("/assertion/options", body);
  }

  async function authenticate(
    authenticator: SoftAuthenticator,
    username: string,
    options: {
      request?: Record<string, unknown>;
      client?: Partial<ClientOverrides>;
      tamper?: (credential: Record<string, unknown>) => unknown;
    } = {},
  ) {
    const requested = await getOptions({ username, ...options.request });
    if (requested.status !== 200) throw new Error(`assertion/options failed: ${JSON.stringify(requested.body)}`);
    const credential = await authenticator.assert(requested.body, { origin: ORIGIN, ...options.client });
    const json = structuredClone(credential) as unknown as Record<string, unknown>;
    return post("/assertion/result", options.tamper ? options.tamper(json) : json);
  }

  /**
   * A registration whose attestation the test builds itself (crafted-attestation.ts), for
   * formats our software authenticator does not produce.
   */
  async function registerWith(
    build: (options: Loose) => Promise<Record<string, unknown>>,
    request: Record<string, unknown> = {},
  ) {
    const username = uniqueUsername("fido");
    const created = await creationOptions({
      username,
      displayName: `Display ${username}`,
      attestation: "direct",
      ...request,
    });
    if (created.status !== 200) throw new Error(`attestation/options failed: ${JSON.stringify(created.body)}`);
    const result = await post("/attestation/result", await build(created.body));
    return { username, options: created.body, result };
  }

  /** The admin metadata endpoints, with an admin key. */
  function metadataAdmin(adminKey: string) {
    const headers = { authorization: `Bearer ${adminKey}` };
    return {
      loadBlob: (blob: string, source?: string) =>
        worker.api("PUT", "/api/v1/admin/metadata", source ? { blob, source } : { blob }, headers),
      loadStatements: (statements: unknown[]) =>
        worker.api("PUT", "/api/v1/admin/metadata/statements", { statements }, headers),
      sources: () => worker.api("GET", "/api/v1/admin/metadata", undefined, headers),
      remove: (source: string) => worker.api("DELETE", `/api/v1/admin/metadata/${source}`, undefined, headers),
    };
  }

  return { api: worker.api, post, creationOptions, register, registerWith, getOptions, authenticate, metadataAdmin };
}

export type BindingResponse = { status: number; body: { status: string; errorMessage: string } };

/** The binding's failure: HTTP 4xx, `status: "failed"`, a non-empty errorMessage. */
export function expectFailed(response: BindingResponse, expect: (value: unknown) => ExpectLike) {
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(response.status).toBeLessThan(500);
  expect(response.body.status).toBe("failed");
  expect(typeof response.body.errorMessage).toBe("string");
  expect(response.body.errorMessage.length).toBeGreaterThan(0);
}

type ExpectLike = {
  toBe(value: unknown): void;
  toBeGreaterThanOrEqual(value: number): void;
  toBeLessThan(value: number): void;
  toBeGreaterThan(value: number): void;
};

/** Base64url of a JSON value, as clientDataJSON carries it. */
export const jsonBase64URL = (value: unknown) =>
  isoBase64URL.fromBuffer(new Uint8Array(new TextEncoder().encode(JSON.stringify(value))));

export const decodeJSONBase64URL = (value: string): Record<string, unknown> =>
  JSON.parse(new TextDecoder().decode(isoBase64URL.toBuffer(value)));

/** The wrong-typed values the conformance tools draw from (`generateRandomTypeExcluding`). */
export const notAString = [{}, [], 0, 16657, false, true, null] as const;
export const notAnObject = [[], 0, 1, false, true, "a string", null] as const;

// biome-ignore lint/suspicious/noExplicitAny: credential JSON is changed ad hoc, the way the tools do.
export type Credential = any;
/** Changes a credential's JSON before it is posted, the way a negative catalogue item does. */
export type Tamper = (credential: Credential) => unknown;

/** Sets (or, with `undefined`, deletes) the member at a dotted path. */
export const set =
  (path: string, value: unknown): Tamper =>
  (credential) => {
    const keys = path.split(".");
    const last = keys.pop() as string;
    const parent = keys.reduce((node, key) => node[key], credential);
    if (value === undefined) delete parent[last];
    else parent[last] = value;
    return credential;
  };

/** Changes the decoded clientDataJSON and encodes it back. */
export const clientData =
  (change: (data: Record<string, unknown>) => void): Tamper =>
  (credential) => {
    const data = decodeJSONBase64URL(credential.response.clientDataJSON);
    change(data);
    credential.response.clientDataJSON = jsonBase64URL(data);
    return credential;
  };

/** Standard base64 with padding: what the tools send as "not base64url". */
export const standardBase64 = (base64url: string) => `${base64url.replaceAll("-", "+").replaceAll("_", "/")}==`;

/**
 * The CollectedClientData items (Resp-2 F-1 … F-17) of either response: the same list for
 * MakeCredential ("create") and GetAssertion ("get"), but for the expected type.
 */
export function collectedClientDataCases(ceremony: "create" | "get"): [string, Tamper][] {
  const other = ceremony === "create" ? "get" : "create";
  return [
    ["F-1: type missing", clientData((d) => delete d.type)],
    ...notAString.map((value): [string, Tamper] => [
      `F-2: type not a DOMString (${JSON.stringify(value)})`,
      clientData((d) => (d.type = value)),
    ]),
    ["F-3: type empty", clientData((d) => (d.type = ""))],
    [`F-4: type not webauthn.${ceremony}`, clientData((d) => (d.type = `avocado.${ceremony}`))],
    [`F-5: type is webauthn.${other}`, clientData((d) => (d.type = `webauthn.${other}`))],
    ["F-6: challenge missing", clientData((d) => delete d.challenge)],
    ...notAString.map((value): [string, Tamper] => [
      `F-7: challenge not a DOMString (${JSON.stringify(value)})`,
      clientData((d) => (d.challenge = value)),
    ]),
    ["F-8: challenge empty", clientData((d) => (d.challenge = ""))],
    ["F-9: challenge not base64url", clientData((d) => (d.challenge = standardBase64(String(d.challenge))))],
    [
      "F-10: challenge not the one issued",
      clientData((d) => (d.challenge = isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(32))))),
    ],
    ["F-11: origin missing", clientData((d) => delete d.origin)],
    ...notAString.map((value): [string, Tamper] => [
      `F-12: origin not a DOMString (${JSON.stringify(value)})`,
      clientData((d) => (d.origin = value)),
    ]),
    ["F-13: origin empty", clientData((d) => (d.origin = ""))],
    ["F-14: origin not the RP origin", clientData((d) => (d.origin = "https://evil.example.com/missme?"))],
    ...notAnObject.map((value): [string, Tamper] => [
      `F-15: tokenBinding not an Object (${JSON.stringify(value)})`,
      clientData((d) => (d.tokenBinding = value)),
    ]),
    ["F-16: tokenBinding without status", clientData((d) => (d.tokenBinding = {}))],
    ["F-17: tokenBinding.status not a known value", clientData((d) => (d.tokenBinding = { status: "bananas" }))],
    ['tokenBinding with status "present" but no id', clientData((d) => (d.tokenBinding = { status: "present" }))],
  ];
}

x509.cryptoProvider.set(crypto);

/** An issuing certificate and its key: a root or an intermediate of a test CA. */
export type Issuer = { certificate: x509.X509Certificate; keys: CryptoKeyPair };

export type IssuedBatch = AttestationCertificate & {
  certificate: x509.X509Certificate;
  /** The intermediates between the leaf and the root, leaf side first. */
  intermediates: Issuer[];
};

export type TestCA = {
  root: x509.X509Certificate;
  rootKeys: CryptoKeyPair;
  /** A batch (leaf) certificate for attestation, signed by the root (or through intermediates). */
  issueBatch(options?: BatchOptions): Promise<IssuedBatch>;
  /** A CRL of the given issuer (default: the root) revoking the given certificates. */
  crl(revoked: x509.X509Certificate[], issuer?: Issuer): Promise<Uint8Array<ArrayBuffer>>;
};

export type BatchOptions = {
  /** The leaf key's algorithm (default ES256); it signs the attestation statement. */
  algorithm?: "ES256" | "RS256";
  /** The leaf's own key pair instead of a fresh one (e.g. the credential key, for android-key and apple). */
  keys?: CryptoKeyPair;
  /** Overrides the leaf subject (default: a valid packed attestation subject). */
  subject?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Adds id-fido-gen-ce-aaguid with these 16 bytes. */
  aaguid?: Uint8Array;
  /** More leaf extensions (android key description, apple nonce). */
  extensions?: x509.Extension[];
  /** Issue through one intermediate CA and include it in x5c. */
  intermediate?: boolean;
  /** Issue through this many intermediate CAs (root → first → … → leaf), all in x5c. */
  intermediates?: number;
  /** The intermediate next to the root has expired. */
  expiredIntermediate?: boolean;
  /** Put the intermediates in x5c in the wrong order (root side first). */
  misordered?: boolean;
  /** Append the root itself to x5c (a "full chain"). */
  includeRoot?: boolean;
  /** CRL distribution point URL of the leaf (its issuer's CRL) and of the intermediates (the root's). */
  crlUrls?: { leaf?: string; intermediates?: string };
};

const ecdsa = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const day = 24 * 60 * 60 * 1000;
let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(4, "0");

/** A throwaway certificate authority made in the test, like an authenticator vendor's. */
export async function createTestCA(name = "Test Attestation Root"): Promise<TestCA> {
  const rootKeys = (await crypto.subtle.generateKey(ecdsa, true, ["sign", "verify"])) as CryptoKeyPair;
  // Critical basic constraints on the root, as Resp-5 P-4 has it.
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${name}, O=Test Vendor, C=US`,
    notBefore: new Date(Date.now() - day),
    notAfter: new Date(Date.now() + 365 * day),
    signingAlgorithm: ecdsa,
    keys: rootKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const rootIssuer: Issuer = { certificate: root, keys: rootKeys };

  async function intermediate(issuer: Issuer, index: number, options: BatchOptions): Promise<Issuer> {
    const keys = (await crypto.subtle.generateKey(ecdsa, true, ["sign", "verify"])) as CryptoKeyPair;
    const expired = options.expiredIntermediate && issuer === rootIssuer;
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject: `CN=Test Attestation Intermediate ${index + 1} ${nextSerial()}, O=Test Vendor, C=US`,
      issuer: issuer.certificate.subject,
      notBefore: new Date(Date.now() - (expired ? 30 : 1) * day),
      notAfter: new Date(Date.now() + (expired ? -day : 300 * day)),
      signingAlgorithm: ecdsa,
      publicKey: keys.publicKey,
      signingKey: issuer.keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
        ...(options.crlUrls?.intermediates
          ? [new x509.CRLDistributionPointsExtension([options.crlUrls.intermediates])]
          : []),
      ],
    });
    return { certificate, keys };
  }

  async function issueBatch(options: BatchOptions = {}): Promise<IssuedBatch> {
    const count = options.intermediates ?? (options.intermediate ? 1 : 0);
    // Built from the root down; x5c lists them from the leaf up.
    const fromRoot: Issuer[] = [];
    let issuer = rootIssuer;
    for (let i = 0; i < count; i++) {
      issuer = await intermediate(issuer, i, options);
      fromRoot.push(issuer);
    }
    const algorithm = options.algorithm ?? "ES256";
    const leafKeys = options.keys ?? (await generateKeyPair(algorithm));
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      ...(options.extensions ?? []),
      ...(options.crlUrls?.leaf ? [new x509.CRLDistributionPointsExtension([options.crlUrls.leaf])] : []),
    ];
    if (options.aaguid) {
      // id-fido-gen-ce-aaguid: an OCTET STRING holding the 16 AAGUID bytes.
      const value = new Uint8Array([0x04, 0x10, ...options.aaguid]);
      extensions.push(new x509.Extension("1.3.6.1.4.1.45724.1.1.4", false, value));
    }
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject: options.subject ?? "C=US, O=Test Vendor, OU=Authenticator Attestation, CN=Test Batch Certificate",
      issuer: issuer.certificate.subject,
      notBefore: options.notBefore ?? new Date(Date.now() - day),
      notAfter: options.notAfter ?? new Date(Date.now() + 200 * day),
      signingAlgorithm: ecdsa,
      publicKey: leafKeys.publicKey,
      signingKey: issuer.keys.privateKey,
      extensions,
    });
    const intermediates = [...fromRoot].reverse();
    const ordered = options.misordered ? fromRoot : intermediates;
    const x5c = [certificate, ...ordered.map((i) => i.certificate), ...(options.includeRoot ? [root] : [])].map(
      (cert) => new Uint8Array(cert.rawData),
    );
    return { certificate, intermediates, x5c, privateKey: leafKeys.privateKey, algorithm };
  }

  async function crl(revoked: x509.X509Certificate[], issuer: Issuer = rootIssuer) {
    const list = await x509.X509CrlGenerator.create({
      issuer: issuer.certificate.subject,
      thisUpdate: new Date(Date.now() - day),
      nextUpdate: new Date(Date.now() + day),
      entries: revoked.map((certificate) => ({ serialNumber: certificate.serialNumber, revocationDate: new Date() })),
      signingAlgorithm: ecdsa,
      signingKey: issuer.keys.privateKey,
      extensions: [await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey)],
    });
    return new Uint8Array(list.rawData);
  }

  return { root, rootKeys, issueBatch, crl };
}

/** Base64 DER, as metadata statements carry certificates. */
export const base64Certificate = (certificate: x509.X509Certificate) =>
  isoBase64URL.fromBuffer(new Uint8Array(certificate.rawData), "base64");

/** The 16 bytes of an AAGUID written as a UUID. */
export const aaguidBytes = (uuid: string): Uint8Array<ArrayBuffer> =>
  new Uint8Array(
    uuid
      .replaceAll("-", "")
      .match(/../g)
      ?.map((pair) => Number.parseInt(pair, 16)) ?? [],
  );

/** A metadata statement as the FIDO conformance tool hands them out (its metadata download). */
export function metadataStatement(
  aaguid: string,
  options: {
    attestationTypes?: string[];
    roots?: x509.X509Certificate[];
    authenticationAlgorithms?: string[];
    getInfoAlgorithms?: number[];
    icon?: string;
    description?: string;
  } = {},
): Record<string, unknown> {
  return {
    aaguid,
    description: options.description ?? "Test FIDO2 authenticator",
    schema: 3,
    protocolFamily: "fido2",
    attestationTypes: options.attestationTypes ?? ["basic_full"],
    authenticationAlgorithms: options.authenticationAlgorithms ?? ["secp256r1_ecdsa_sha256_raw"],
    attestationRootCertificates: (options.roots ?? []).map(base64Certificate),
    ...(options.getInfoAlgorithms
      ? {
          authenticatorGetInfo: {
            versions: ["FIDO_2_0"],
            aaguid: aaguid.replaceAll("-", ""),
            algorithms: options.getInfoAlgorithms.map((alg) => ({ type: "public-key", alg })),
          },
        }
      : {}),
    ...(options.icon ? { icon: options.icon } : {}),
  };
}
