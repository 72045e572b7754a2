import { z } from "zod";
import { fromBase64URL } from "../crypto/encoding";
import { AppError } from "../errors";

// A native challenge carries the ceremony's sealed state (well under 1 KB base64url).
const clientDataShape = z.object({
  challenge: z.string().min(1).max(2048),
  crossOrigin: z.boolean().optional(),
  topOrigin: z.string().optional(),
  // Read as it is: a missing or malformed origin is the verification's refusal (origin-policy.ts).
  origin: z.unknown().optional(),
});

export type ClientData = z.infer<typeof clientDataShape>;

/**
 * What the verify step reads before anything else: the challenge it finds its ceremony by (no
 * cookie or session is needed between the two calls), and where the page that asked was
 * embedded. Everything else in clientDataJSON is checked later by the verification itself.
 */
export function parseClientData(clientDataJSON: string): ClientData {
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64URL(clientDataJSON));
    return clientDataShape.parse(JSON.parse(text));
  } catch {
    throw new AppError("INVALID_REQUEST", "clientDataJSON is not valid client data");
  }
}

/**
 * A ceremony run inside a cross-origin iframe (`crossOrigin: true`) is refused unless the top
 * page is one the operator allowed (RP_TOP_ORIGINS, empty by default): otherwise any site could
 * frame the sign-in page and have the user approve a ceremony for it. Returns the reason to
 * refuse, or null.
 */
export function crossOriginRefusal(clientData: ClientData, topOrigins: readonly string[]): string | null {
  if (clientData.crossOrigin !== true) return null;
  if (clientData.topOrigin === undefined) return "cross_origin_without_top_origin";
  return topOrigins.includes(clientData.topOrigin) ? null : "cross_origin_top_origin_not_allowed";
}
