import { z } from "zod";
import { fromBase64URL } from "../crypto/encoding";
import { AppError } from "../errors";

const clientDataShape = z.object({ challenge: z.string().min(1).max(256) });

/**
 * The verify step finds its ceremony by the challenge the browser signed over, so no
 * cookie or session is needed between the two calls. Everything else in clientDataJSON is
 * checked later by the verification itself.
 */
export function challengeFromClientData(clientDataJSON: string): string {
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64URL(clientDataJSON));
    return clientDataShape.parse(JSON.parse(text)).challenge;
  } catch {
    throw new AppError("INVALID_REQUEST", "clientDataJSON is not valid client data");
  }
}
