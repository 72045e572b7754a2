/**
 * The two TPM 2.0 structures of a `tpm` attestation statement (TPM 2.0 Library, Part 2:
 * Structures), read whole: SimpleWebAuthn reads the fields it needs and ignores whatever
 * follows them, so these readers exist to refuse what is missing or left over. Big-endian
 * throughout; a TPM2B is a 16-bit size and that many bytes.
 */

const TPM_ALG_NULL = 0x0010;
const TPM_ALG_RSA = 0x0001;
const TPM_ALG_ECC = 0x0023;

export type PublicArea = { type: "rsa" | "ecc"; nameAlg: number };
export type CertifyInfo = { attestedNameAlg: number };

export class TPMStructureError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "TPMStructureError";
  }
}

class Reader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly structure: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private take(length: number): number {
    if (this.offset + length > this.bytes.length) throw new TPMStructureError(`${this.structure}_truncated`);
    const at = this.offset;
    this.offset += length;
    return at;
  }

  u16 = () => this.view.getUint16(this.take(2));
  u32 = () => this.view.getUint32(this.take(4));
  skip = (length: number) => void this.take(length);
  sized = (): Uint8Array => {
    const size = this.u16();
    const at = this.take(size);
    return this.bytes.subarray(at, at + size);
  };
  /** An algorithm selector followed by a hash algorithm unless it is TPM_ALG_NULL. */
  scheme = () => {
    if (this.u16() !== TPM_ALG_NULL) this.u16();
  };

  end() {
    if (this.offset !== this.bytes.length) throw new TPMStructureError(`${this.structure}_trailing_bytes`);
  }
}

/** TPMT_PUBLIC (§12.2.4) of an RSA or ECC key. */
export function parsePublicArea(bytes: Uint8Array): PublicArea {
  const reader = new Reader(bytes, "pubArea");
  const type = reader.u16();
  const nameAlg = reader.u16();
  reader.u32(); // objectAttributes
  reader.sized(); // authPolicy
  // TPMT_SYM_DEF_OBJECT: an algorithm, then key bits and mode unless it is TPM_ALG_NULL.
  if (reader.u16() !== TPM_ALG_NULL) reader.skip(4);
  if (type === TPM_ALG_RSA) {
    reader.scheme();
    reader.u16(); // keyBits
    reader.u32(); // exponent
    reader.sized(); // unique: the modulus
  } else if (type === TPM_ALG_ECC) {
    reader.scheme();
    reader.u16(); // curveID
    reader.scheme(); // kdf
    reader.sized(); // unique: x
    reader.sized(); // unique: y
  } else {
    throw new TPMStructureError("pubArea_type");
  }
  reader.end();
  return { type: type === TPM_ALG_RSA ? "rsa" : "ecc", nameAlg };
}

/** TPMS_ATTEST (§10.12.12) holding a TPMS_CERTIFY_INFO, as TPM2_Certify writes it. */
export function parseCertifyInfo(bytes: Uint8Array): CertifyInfo {
  const reader = new Reader(bytes, "certInfo");
  reader.u32(); // magic (SimpleWebAuthn checks it)
  reader.u16(); // type (idem)
  reader.sized(); // qualifiedSigner
  reader.sized(); // extraData
  reader.skip(8 + 4 + 4 + 1); // clockInfo: clock, resetCount, restartCount, safe
  reader.skip(8); // firmwareVersion
  const name = reader.sized();
  reader.sized(); // qualifiedName
  reader.end();
  if (name.length < 2) throw new TPMStructureError("certInfo_name");
  return { attestedNameAlg: (name[0] as number) * 256 + (name[1] as number) };
}
