import { isoBase64URL } from "@simplewebauthn/server/helpers";

/** Bytes backed by a plain ArrayBuffer, as WebCrypto and SimpleWebAuthn expect. */
export type Bytes = Uint8Array<ArrayBuffer>;

export const toBase64URL = (bytes: Bytes): string => isoBase64URL.fromBuffer(bytes);

/** Strict: only unpadded base64url is accepted, so one value has exactly one spelling. */
export function fromBase64URL(value: string): Bytes {
  if (!/^[A-Za-z0-9_-]*$/.test(value)) throw new Error("not unpadded base64url");
  return isoBase64URL.toBuffer(value);
}

export function randomBytes(length: number): Bytes {
  return crypto.getRandomValues(new Uint8Array(length));
}
