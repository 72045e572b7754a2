import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { COSE_ALG, cbor, concat, encodeCOSEPublicKey, generateKeyPair, type KeyAlgorithm, sign } from "./cose";

export type { KeyAlgorithm } from "./cose";

export interface AttestationCertificate {
  x5c: Uint8Array[];
  privateKey: CryptoKey;
  /** The leaf key's algorithm, which signs the attestation statement. */
  algorithm: KeyAlgorithm;
}

export interface AuthenticatorOptions {
  /** Default "ES256". */
  algorithm?: KeyAlgorithm;
  /**
   * Default "none". "packed" is self attestation (no x5c, signed by the credential key) unless
   * `attestationCertificate` is given, then full attestation (x5c, signed by its key).
   * "fido-u2f" needs an ES256 credential and `attestationCertificate`.
   */
  attestation?: "none" | "packed" | "fido-u2f";
  /** The batch certificate chain (DER, leaf first) and the leaf's private key, for full attestation. */
  attestationCertificate?: AttestationCertificate;
  /** 16 bytes, default all zero. */
  aaguid?: Uint8Array;
  backupEligible?: boolean;
  backupState?: boolean;
  /** Initial counter, default 0. */
  signCount?: number;
  /** Default true; false always reports 0, like synced passkeys. */
  countSignatures?: boolean;
  /** Default ["internal"]. */
  transports?: string[];
}

/** Knobs for negative tests; each one defaults to behaving like a correct client. */
export interface ClientOverrides {
  origin?: string;
  type?: string;
  challenge?: string;
  rpId?: string;
  userPresent?: boolean;
  userVerified?: boolean;
  backupEligible?: boolean;
  backupState?: boolean;
  /** Forces this counter into authData and makes it the authenticator's current counter. */
  signCount?: number;
  corruptSignature?: boolean;
  /** Assertion only: null omits the user handle. */
  userHandle?: string | null;
  /** Reported as id/rawId instead of the real credential id. */
  credentialId?: Uint8Array;
  /** clientData.crossOrigin (default false): the page was in a cross-origin iframe. */
  crossOrigin?: boolean;
  /** clientData.topOrigin: the top-level page of a cross-origin iframe (omitted by default). */
  topOrigin?: string;
  /** Authenticator extension outputs: CBOR-encoded after the other data, with the ED flag set. */
  extensions?: Map<string, unknown>;
}

type Client = ClientOverrides & { origin: string };

const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 };

// What a browser assumes when the RP sends an empty pubKeyCredParams list.
const DEFAULT_ALGS = [COSE_ALG.ES256, COSE_ALG.RS256];

export class SoftAuthenticator {
  readonly credentialIdBase64URL: string;
  signCount: number;
  userHandle?: string;

  private constructor(
    readonly credentialId: Uint8Array<ArrayBuffer>,
    readonly algorithm: KeyAlgorithm,
    private readonly keys: CryptoKeyPair,
    private readonly publicKeyCOSE: Uint8Array,
    private readonly options: AuthenticatorOptions,
  ) {
    this.credentialIdBase64URL = isoBase64URL.fromBuffer(credentialId);
    this.signCount = options.signCount ?? 0;
  }

  static async create(options: AuthenticatorOptions = {}): Promise<SoftAuthenticator> {
    const algorithm = options.algorithm ?? "ES256";
    const keys = await generateKeyPair(algorithm);
    const publicKeyCOSE = await encodeCOSEPublicKey(algorithm, keys.publicKey);
    const credentialId = crypto.getRandomValues(new Uint8Array(32));
    return new SoftAuthenticator(credentialId, algorithm, keys, publicKeyCOSE, options);
  }

  async register(options: PublicKeyCredentialCreationOptionsJSON, client: Client): Promise<RegistrationResponseJSON> {
    const alg = COSE_ALG[this.algorithm];
    const offered = options.pubKeyCredParams.map((p) => p.alg);
    if (!(offered.length ? offered : DEFAULT_ALGS).includes(alg)) {
      throw new Error(`NotSupportedError: authenticator only supports ${this.algorithm}`);
    }
    this.userHandle = options.user.id;

    const clientDataJSON = clientData("webauthn.create", options.challenge, client);
    const aaguid = this.options.aaguid ?? new Uint8Array(16);
    if (aaguid.length !== 16) throw new Error("aaguid must be 16 bytes");
    const idLength = new Uint8Array(2);
    new DataView(idLength.buffer).setUint16(0, this.credentialId.length);
    const authData = await this.authenticatorData(
      rpIdFor(client, options.rp.id),
      client,
      this.reportedCounter(client, false),
      concat(aaguid, idLength, this.credentialId, this.publicKeyCOSE),
    );

    const attestation = this.options.attestation ?? "none";
    const attStmt = await this.attestationStatement(attestation, authData, clientDataJSON, client, options.rp.id);
    const attestationObject = cbor({ fmt: attestation, attStmt, authData });

    return {
      ...this.credentialIds(client),
      type: "public-key",
      response: {
        clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
        attestationObject: isoBase64URL.fromBuffer(attestationObject),
        transports: this.options.transports ?? ["internal"],
        publicKeyAlgorithm: alg,
        authenticatorData: isoBase64URL.fromBuffer(authData),
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }

  async assert(options: PublicKeyCredentialRequestOptionsJSON, client: Client): Promise<AuthenticationResponseJSON> {
    const allowed = options.allowCredentials ?? [];
    if (allowed.length > 0 && !allowed.some((c) => c.id === this.credentialIdBase64URL)) {
      throw new Error("NotAllowedError: no matching credential");
    }

    const clientDataJSON = clientData("webauthn.get", options.challenge, client);
    const authData = await this.authenticatorData(
      rpIdFor(client, options.rpId),
      client,
      this.reportedCounter(client, true),
    );
    const signature = await this.sign(authData, clientDataJSON, client);
    const userHandle = client.userHandle === undefined ? this.userHandle : client.userHandle;

    return {
      ...this.credentialIds(client),
      type: "public-key",
      response: {
        clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
        authenticatorData: isoBase64URL.fromBuffer(authData),
        signature: isoBase64URL.fromBuffer(signature),
        ...(userHandle == null ? {} : { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }

  private async attestationStatement(
    format: NonNullable<AuthenticatorOptions["attestation"]>,
    authData: Uint8Array<ArrayBuffer>,
    clientDataJSON: Uint8Array<ArrayBuffer>,
    client: Client,
    rpId: string | undefined,
  ): Promise<Record<string, unknown>> {
    if (format === "none") return {};
    const certificate = this.options.attestationCertificate;
    const clientDataHash = await sha256(clientDataJSON);
    if (format === "packed") {
      if (!certificate)
        return { alg: COSE_ALG[this.algorithm], sig: await this.sign(authData, clientDataJSON, client) };
      const sig = await sign(certificate.algorithm, certificate.privateKey, concat(authData, clientDataHash));
      return { alg: COSE_ALG[certificate.algorithm], sig: corrupted(sig, client), x5c: certificate.x5c };
    }
    // fido-u2f (FIDO U2F raw message formats): the batch key signs
    // 0x00 | rpIdHash | clientDataHash | credentialId | uncompressed P-256 public key.
    if (!certificate || this.algorithm !== "ES256")
      throw new Error("fido-u2f needs an ES256 credential and a batch certificate");
    const jwk = await crypto.subtle.exportKey("jwk", this.keys.publicKey);
    if (jwk instanceof ArrayBuffer || !jwk.x || !jwk.y) throw new Error("expected an EC JWK");
    const publicKeyU2F = concat(new Uint8Array([0x04]), isoBase64URL.toBuffer(jwk.x), isoBase64URL.toBuffer(jwk.y));
    const signed = concat(
      new Uint8Array([0x00]),
      await sha256(utf8(rpIdFor(client, rpId))),
      clientDataHash,
      this.credentialId,
      publicKeyU2F,
    );
    const sig = await sign(certificate.algorithm, certificate.privateKey, signed);
    return { sig: corrupted(sig, client), x5c: certificate.x5c };
  }

  private reportedCounter(client: Client, isAssertion: boolean): number {
    if (client.signCount !== undefined) {
      this.signCount = client.signCount;
      return client.signCount;
    }
    if (this.options.countSignatures === false) return 0;
    if (isAssertion) this.signCount += 1;
    return this.signCount;
  }

  private async authenticatorData(
    rpId: string,
    client: Client,
    counter: number,
    attestedCredentialData?: Uint8Array,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const on = (flag: number, set: boolean | undefined) => (set ? flag : 0);
    const flags =
      on(FLAG.UP, client.userPresent ?? true) |
      on(FLAG.UV, client.userVerified ?? true) |
      on(FLAG.BE, client.backupEligible ?? this.options.backupEligible) |
      on(FLAG.BS, client.backupState ?? this.options.backupState) |
      on(FLAG.AT, attestedCredentialData !== undefined) |
      on(FLAG.ED, client.extensions !== undefined);
    const header = new Uint8Array(5);
    header[0] = flags;
    new DataView(header.buffer).setUint32(1, counter);
    return concat(
      await sha256(utf8(rpId)),
      header,
      attestedCredentialData ?? new Uint8Array(),
      client.extensions ? cbor(client.extensions) : new Uint8Array(),
    );
  }

  private async sign(
    authData: Uint8Array<ArrayBuffer>,
    clientDataJSON: Uint8Array<ArrayBuffer>,
    client: Client,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const signature = await sign(this.algorithm, this.keys.privateKey, concat(authData, await sha256(clientDataJSON)));
    return corrupted(signature, client);
  }

  private credentialIds(client: Client): { id: string; rawId: string } {
    const id = client.credentialId
      ? isoBase64URL.fromBuffer(new Uint8Array(client.credentialId))
      : this.credentialIdBase64URL;
    return { id, rawId: id };
  }
}

/**
 * With `corruptSignature`, flips the last byte: it is signature value in every format (inside
 * s for DER), so the encoding stays well-formed and only verification breaks.
 */
function corrupted(signature: Uint8Array<ArrayBuffer>, client: Client): Uint8Array<ArrayBuffer> {
  if (client.corruptSignature) {
    const last = signature.length - 1;
    signature[last] = (signature[last] ?? 0) ^ 0x01;
  }
  return signature;
}

function clientData(defaultType: string, challenge: string, client: Client): Uint8Array<ArrayBuffer> {
  return utf8(
    JSON.stringify({
      type: client.type ?? defaultType,
      challenge: client.challenge ?? challenge,
      origin: client.origin,
      crossOrigin: client.crossOrigin ?? false,
      ...(client.topOrigin === undefined ? {} : { topOrigin: client.topOrigin }),
    }),
  );
}

/** Browsers fall back to the origin's host when the RP names no rpId. */
function rpIdFor(client: Client, rpId: string | undefined): string {
  return client.rpId ?? rpId ?? new URL(client.origin).hostname;
}

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

// Copied because Workers typings give TextEncoder a Uint8Array<ArrayBufferLike>,
// which WebCrypto's BufferSource (and isoBase64URL) won't accept.
function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new TextEncoder().encode(text));
}
