import type { Config } from "../config/config";
import { fromBase64URL } from "../crypto/encoding";

/**
 * Which origin a ceremony response may come from: the exact origins of RP_ORIGINS, plus any port
 * of http://localhost when RP_ORIGINS lists `http://localhost:*` (possible only with RP_ID
 * "localhost", see src/config/config.ts). The signature checks themselves stay with SimpleWebAuthn,
 * which compares clientDataJSON's origin with the list given here.
 */
export type OriginCheck = {
  /** The origins to hand to SimpleWebAuthn as `expectedOrigin`. */
  expected: string[];
  /** The response's origin when it is not allowed (not secret: the browser wrote it); else null. */
  refused: string | null;
};

const localhostWithPort = /^http:\/\/localhost(?::[1-9][0-9]{0,4})?$/;

export function checkOrigin(config: Pick<Config, "origins" | "anyLocalhostPort">, clientDataJSON: string): OriginCheck {
  const origin = originOf(clientDataJSON);
  if (origin === null) return { expected: config.origins, refused: null };
  if (config.origins.includes(origin)) return { expected: config.origins, refused: null };
  if (config.anyLocalhostPort && localhostWithPort.test(origin)) {
    return { expected: [...config.origins, origin], refused: null };
  }
  return { expected: config.origins, refused: origin };
}

/** clientDataJSON's origin, or null when it cannot be read (the verification then refuses it). */
function originOf(clientDataJSON: string): string | null {
  try {
    const data: unknown = JSON.parse(new TextDecoder().decode(fromBase64URL(clientDataJSON)));
    if (typeof data !== "object" || data === null || !("origin" in data)) return null;
    return typeof data.origin === "string" && data.origin.length <= 512 ? data.origin : null;
  } catch {
    return null;
  }
}
