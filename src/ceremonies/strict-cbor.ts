import { decodeFirst, Tokenizer, Type } from "cborg";

/**
 * Decodes one CBOR item the way WebAuthn structures are written (RFC 8949 with the CTAP2
 * canonical form's restrictions that matter here): maps as Maps (labels keep their types);
 * duplicate labels, indefinite lengths and tags refused (CTAP2 §8 forbids them), undefined
 * and floating-point numbers too (no attestation structure holds one, and a float like -7.0
 * must not pass for the integer -7). Returns the value and how many bytes it took, so the
 * caller decides whether anything may follow.
 */
export function decodeStrictCBOR(bytes: Uint8Array): { value: unknown; length: number } {
  // The tokenizer applies most of these (lengths, undefined); decodeFirst the rest (maps).
  const options = {
    useMaps: true,
    rejectDuplicateMapKeys: true,
    allowIndefinite: false,
    allowUndefined: false,
    allowBigInt: false,
  };
  const tokenizer = new Tokenizer(bytes, options);
  const noFloats = {
    done: () => tokenizer.done(),
    pos: () => tokenizer.pos(),
    next: () => {
      const token = tokenizer.next();
      if (token.type === Type.float) throw new MalformedCBOR("a floating-point number");
      return token;
    },
  };
  try {
    const [value, rest] = decodeFirst(bytes, { ...options, tokenizer: noFloats });
    return { value, length: bytes.length - rest.length };
  } catch (error) {
    if (error instanceof MalformedCBOR) throw error;
    throw new MalformedCBOR(error instanceof Error ? error.message.replace(/^CBOR decode error: /, "") : "unreadable");
  }
}

/** Decodes exactly one CBOR item that fills `bytes`. */
export function decodeWholeCBOR(bytes: Uint8Array): unknown {
  const { value, length } = decodeStrictCBOR(bytes);
  if (length !== bytes.length) throw new MalformedCBOR("trailing bytes");
  return value;
}

export class MalformedCBOR extends Error {
  constructor(readonly why: string) {
    super(`malformed CBOR: ${why}`);
    this.name = "MalformedCBOR";
  }
}
