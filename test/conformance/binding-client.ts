import * as x509 from "@peculiar/x509";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { generateKeyPair, type KeyAlgorithm } from "../authenticator/cose";
import {
  type AttestationCertificate,
  type AuthenticatorOptions,
  type ClientOverrides,
  SoftAuthenticator,
} from "../authenticator/soft-authenticator";
import { ORIGIN, uniqueUsername } from "../support/api";
import { workerWithEnv } from "../support/worker-with-env";

// biome-ignore lint/suspicious/noExplicitAny: binding bodies are read ad hoc and asserted on.
type Loose = any;

/**
 * A client of the FIDO conformance binding, doing what the FIDO conformance tools do: the
 * four POSTs, a fresh username per registration, our software authenticator in place of
 * their virtual one.
 */
export function bindingClient(overrides: Partial<Record<keyof Env | "ADMIN_API_KEY", unknown>> = {}) {
  // ADMIN_API_KEY is an optional secret, so it is not in the generated Env type.
  const call = workerWithEnv({ CONFORMANCE_API: "true", ...overrides } as Partial<Record<keyof Env, unknown>>);
  const post = async (path: string, body: unknown): Promise<{ status: number; headers: Headers; body: Loose }> =>
    call("POST", path, { body });

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

  return { call, post, creationOptions, register, getOptions, authenticate };
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

x509.cryptoProvider.set(crypto);

export type TestCA = {
  root: x509.X509Certificate;
  rootKeys: CryptoKeyPair;
  /** A batch (leaf) certificate for attestation, signed by the root (or an intermediate). */
  issueBatch(options?: BatchOptions): Promise<AttestationCertificate & { certificate: x509.X509Certificate }>;
};

export type BatchOptions = {
  algorithm?: "ES256";
  /** Overrides the leaf subject (default: a valid packed attestation subject). */
  subject?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Adds id-fido-gen-ce-aaguid with these 16 bytes. */
  aaguid?: Uint8Array;
  /** Issue through an intermediate CA and include it in x5c. */
  intermediate?: boolean;
  /** Append the root itself to x5c (a "full chain"). */
  includeRoot?: boolean;
};

const ecdsa = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const day = 24 * 60 * 60 * 1000;
let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(4, "0");

/** A throwaway certificate authority made in the test, like an authenticator vendor's. */
export async function createTestCA(name = "Test Attestation Root"): Promise<TestCA> {
  const rootKeys = (await crypto.subtle.generateKey(ecdsa, true, ["sign", "verify"])) as CryptoKeyPair;
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

  async function issueBatch(options: BatchOptions = {}) {
    let issuer = root;
    let issuerKey = rootKeys.privateKey;
    const chain: x509.X509Certificate[] = [];
    if (options.intermediate) {
      const keys = (await crypto.subtle.generateKey(ecdsa, true, ["sign", "verify"])) as CryptoKeyPair;
      const intermediate = await x509.X509CertificateGenerator.create({
        serialNumber: nextSerial(),
        subject: "CN=Test Attestation Intermediate, O=Test Vendor, C=US",
        issuer: root.subject,
        notBefore: new Date(Date.now() - day),
        notAfter: new Date(Date.now() + 300 * day),
        signingAlgorithm: ecdsa,
        publicKey: keys.publicKey,
        signingKey: rootKeys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
          await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
        ],
      });
      chain.push(intermediate);
      issuer = intermediate;
      issuerKey = keys.privateKey;
    }
    const leafKeys = await generateKeyPair(options.algorithm ?? "ES256");
    const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)];
    if (options.aaguid) {
      // id-fido-gen-ce-aaguid: an OCTET STRING holding the 16 AAGUID bytes.
      const value = new Uint8Array([0x04, 0x10, ...options.aaguid]);
      extensions.push(new x509.Extension("1.3.6.1.4.1.45724.1.1.4", false, value));
    }
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject: options.subject ?? "C=US, O=Test Vendor, OU=Authenticator Attestation, CN=Test Batch Certificate",
      issuer: issuer.subject,
      notBefore: options.notBefore ?? new Date(Date.now() - day),
      notAfter: options.notAfter ?? new Date(Date.now() + 200 * day),
      signingAlgorithm: ecdsa,
      publicKey: leafKeys.publicKey,
      signingKey: issuerKey,
      extensions,
    });
    const x5c = [certificate, ...chain, ...(options.includeRoot ? [root] : [])].map(
      (cert) => new Uint8Array(cert.rawData),
    );
    return {
      certificate,
      x5c,
      privateKey: leafKeys.privateKey,
      algorithm: (options.algorithm ?? "ES256") as KeyAlgorithm,
    };
  }

  return { root, rootKeys, issueBatch };
}
