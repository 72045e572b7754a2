import type { Config } from "../config/config";

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

export function checkOrigin(config: Pick<Config, "origins" | "anyLocalhostPort">, claimed: unknown): OriginCheck {
  // Not a usable origin: SimpleWebAuthn refuses it against the configured list.
  const origin = typeof claimed === "string" && claimed.length <= 512 ? claimed : null;
  if (origin === null) return { expected: config.origins, refused: null };
  if (config.origins.includes(origin)) return { expected: config.origins, refused: null };
  if (config.anyLocalhostPort && localhostWithPort.test(origin)) {
    return { expected: [...config.origins, origin], refused: null };
  }
  return { expected: config.origins, refused: origin };
}
