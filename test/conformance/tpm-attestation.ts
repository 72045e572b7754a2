import { AsnConvert, AsnSerializer } from "@peculiar/asn1-schema";
import {
  AttributeTypeAndValue,
  AttributeValue,
  Certificate,
  GeneralName,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  Version,
} from "@peculiar/asn1-x509";
import * as x509 from "@peculiar/x509";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { COSE_ALG, concat, ecdsaRawToDER, generateKeyPair, type KeyAlgorithm, sign } from "../authenticator/cose";
import type { TestCA } from "./binding-client";
import type { CredentialKey, SignedParts } from "./crafted-attestation";

// TPM 2.0 attestation (WebAuthn §8.3), as Windows Hello makes it: the TPM certifies the
// credential key (pubArea, a TPMT_PUBLIC) in a TPMS_ATTEST structure (certInfo) whose
// extraData is the hash of authData || clientDataHash, and signs certInfo with its attestation
// identity key (AIK), whose certificate (empty subject, TCG subject alternative name, EKU
// tcg-kp-AIKCertificate) a CA of the test issues. Structures: TPM 2.0 Library Part 2.

const TPM_ALG = { RSA: 0x0001, SHA1: 0x0004, SHA256: 0x000b, SHA384: 0x000c, NULL: 0x0010, ECC: 0x0023 } as const;
const TPM_ECC_CURVE: Partial<Record<KeyAlgorithm, number>> = { ES256: 0x0003, ES384: 0x0004, ES512: 0x0005 };
export const TPM_GENERATED_VALUE = 0xff544347;
export const TPM_ST_ATTEST_CERTIFY = 0x8017;
const NAME_HASH: Record<number, string> = {
  [TPM_ALG.SHA1]: "SHA-1",
  [TPM_ALG.SHA256]: "SHA-256",
  [TPM_ALG.SHA384]: "SHA-384",
};
const ALG_HASH: Record<number, string> = { [-257]: "SHA-256", [-65535]: "SHA-1", [-7]: "SHA-256", [-258]: "SHA-384" };

const u16 = (value: number) => new Uint8Array([value >> 8, value & 0xff]);
const u32 = (value: number) => new Uint8Array([value >>> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff]);
const tpm2b = (bytes: Uint8Array) => concat(u16(bytes.length), bytes);
const digest = async (hash: string, data: Uint8Array) =>
  new Uint8Array(await crypto.subtle.digest(hash, new Uint8Array(data)));

/** TPMT_PUBLIC of the credential key: an RSA key or an ECC point, no policy, NULL schemes. */
export async function publicArea(credential: CredentialKey, nameAlg: number = TPM_ALG.SHA256) {
  const jwk = await crypto.subtle.exportKey("jwk", credential.keys.publicKey);
  if (jwk instanceof ArrayBuffer) throw new Error("expected a JWK");
  const b = (value: string | undefined) => isoBase64URL.toBuffer(value ?? "");
  // fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | sign: a TPM-bound signing key.
  const attributes = u32(0x00060472);
  const header = concat(
    u16(credential.algorithm.startsWith("ES") ? TPM_ALG.ECC : TPM_ALG.RSA),
    u16(nameAlg),
    attributes,
    tpm2b(new Uint8Array()),
  );
  const curve = TPM_ECC_CURVE[credential.algorithm];
  if (curve) {
    return concat(
      header,
      u16(TPM_ALG.NULL),
      u16(TPM_ALG.NULL),
      u16(curve),
      u16(TPM_ALG.NULL),
      tpm2b(b(jwk.x)),
      tpm2b(b(jwk.y)),
    );
  }
  const n = b(jwk.n);
  // Exponent 0 means the default, 65537.
  return concat(header, u16(TPM_ALG.NULL), u16(TPM_ALG.NULL), u16(n.length * 8), u32(0), tpm2b(n));
}

/** The TCG attributes of the AIK's subject alternative name (TPM manufacturer, model, version). */
export type TCGAttributes = { manufacturer?: string; model?: string; version?: string };
const TCG_OIDS = { manufacturer: "2.23.133.2.1", model: "2.23.133.2.2", version: "2.23.133.2.3" } as const;

export type AIKOptions = {
  /** Certificate version (default 3). */
  version?: 1 | 3;
  /** Default empty, as §8.3.1 requires. */
  subject?: string;
  /** Default FIDO's test manufacturer id:FFFFF1D0; null leaves the extension out. */
  san?: TCGAttributes | null;
  /** Default ["2.23.133.8.3"]; null leaves the extension out. */
  eku?: string[] | null;
  /** Basic constraints CA (default false). */
  ca?: boolean;
  /** The AIK's key pair, for `algorithm` (RSA key generation is slow); a fresh one unless given. */
  keys?: CryptoKeyPair;
};

export type AIK = { der: Uint8Array; keys: CryptoKeyPair; algorithm: KeyAlgorithm };

/** An AIK certificate issued by the test CA's root, with the AIK's key pair. */
export async function issueAIK(ca: TestCA, algorithm: KeyAlgorithm, options: AIKOptions = {}): Promise<AIK> {
  const keys = options.keys ?? (await generateKeyPair(algorithm));
  const san =
    options.san === undefined ? { manufacturer: "id:FFFFF1D0", model: "FIDO", version: "id:13" } : options.san;
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(options.ca ?? false, undefined, true)];
  if (san) {
    const rdns = Object.entries(san).map(
      ([attribute, value]) =>
        new RelativeDistinguishedName([
          new AttributeTypeAndValue({
            type: TCG_OIDS[attribute as keyof TCGAttributes],
            value: new AttributeValue({ utf8String: value }),
          }),
        ]),
    );
    const extension = new SubjectAlternativeName([new GeneralName({ directoryName: new Name(rdns) })]);
    extensions.push(new x509.Extension("2.5.29.17", true, AsnSerializer.serialize(extension)));
  }
  const eku = options.eku === undefined ? ["2.23.133.8.3"] : options.eku;
  if (eku) extensions.push(new x509.ExtendedKeyUsageExtension(eku, false));
  const issued = await x509.X509CertificateGenerator.create({
    serialNumber: crypto.randomUUID().replaceAll("-", "").slice(0, 16),
    subject: "CN=placeholder",
    issuer: ca.root.subject,
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 100 * 86_400_000),
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    publicKey: keys.publicKey,
    signingKey: ca.rootKeys.privateKey,
    extensions,
  });
  // The generator cannot write an empty subject or another version: set them and sign again.
  const certificate = AsnConvert.parse(issued.rawData, Certificate);
  certificate.tbsCertificate.subject = options.subject
    ? AsnConvert.parse(new x509.Name(options.subject).toArrayBuffer(), Name)
    : new Name();
  if (options.version === 1) {
    certificate.tbsCertificate.version = Version.v1;
    certificate.tbsCertificate.extensions = undefined;
  }
  const tbs = new Uint8Array(AsnConvert.serialize(certificate.tbsCertificate));
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, ca.rootKeys.privateKey, tbs),
  );
  certificate.signatureValue = ecdsaRawToDER(signature).buffer;
  return { der: new Uint8Array(AsnConvert.serialize(certificate)), keys, algorithm };
}

export type TPMOptions = {
  ver?: string;
  /** The statement's alg: the AIK's signature and the extraData hash (default RS256). */
  alg?: KeyAlgorithm;
  aik?: AIKOptions;
  /** An AIK issued before (RSA key generation is slow), instead of a fresh one. */
  issuedAIK?: AIK;
  /** Another key in pubArea than the credential's. */
  pubAreaKey?: CredentialKey;
  pubAreaNameAlg?: number;
  /** The algorithm the attested name is computed with (default pubArea's nameAlg). */
  attestedNameAlg?: number;
  magic?: number;
  type?: number;
  extraData?: (expected: Uint8Array) => Uint8Array;
  attestedName?: (expected: Uint8Array) => Uint8Array;
  /** Bytes after the structures. */
  pubAreaTrailing?: Uint8Array;
  certInfoTrailing?: Uint8Array;
  corruptSignature?: boolean;
  /** Changes the finished statement (drop a member, …). */
  statement?: (statement: Record<string, unknown>) => Record<string, unknown>;
};

export function tpmStatement(ca: TestCA, options: TPMOptions = {}) {
  return async ({ authData, clientDataHash, credential }: SignedParts) => {
    const alg = options.alg ?? "RS256";
    const nameAlg = options.pubAreaNameAlg ?? TPM_ALG.SHA256;
    const pubArea = concat(
      await publicArea(options.pubAreaKey ?? credential, nameAlg),
      options.pubAreaTrailing ?? new Uint8Array(),
    );
    const attestedNameAlg = options.attestedNameAlg ?? nameAlg;
    const name = concat(u16(attestedNameAlg), await digest(NAME_HASH[attestedNameAlg] ?? "SHA-256", pubArea));
    const hash = ALG_HASH[COSE_ALG[alg]] ?? "SHA-256";
    const extraData = await digest(hash, concat(authData, clientDataHash));
    const certInfo = concat(
      u32(options.magic ?? TPM_GENERATED_VALUE),
      u16(options.type ?? TPM_ST_ATTEST_CERTIFY),
      tpm2b(concat(u16(TPM_ALG.SHA256), crypto.getRandomValues(new Uint8Array(32)))), // qualifiedSigner
      tpm2b(options.extraData?.(extraData) ?? extraData),
      new Uint8Array(17), // clockInfo: clock, resetCount, restartCount, safe
      new Uint8Array(8), // firmwareVersion
      tpm2b(options.attestedName?.(name) ?? name),
      tpm2b(concat(u16(TPM_ALG.SHA256), crypto.getRandomValues(new Uint8Array(32)))), // qualifiedName
      options.certInfoTrailing ?? new Uint8Array(),
    );
    const aik = options.issuedAIK ?? (await issueAIK(ca, alg, options.aik));
    const sig = await sign(alg, aik.keys.privateKey, certInfo);
    if (options.corruptSignature) sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 0x01;
    const statement = { ver: options.ver ?? "2.0", alg: COSE_ALG[alg], x5c: [aik.der], sig, certInfo, pubArea };
    return options.statement ? options.statement(statement) : statement;
  };
}

export { TPM_ALG };
