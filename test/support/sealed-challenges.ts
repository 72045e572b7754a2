import { env } from "cloudflare:workers";
import { ChallengeSealing } from "../../src/crypto/challenge-sealing";
import { fromBase64URL, toBase64URL } from "../../src/crypto/encoding";

/** What a native challenge carries (src/durable-objects/challenge-store.ts), as tests read it. */
export type SealedChallenge = Record<string, unknown> & { spendId: string; expiresAt: number; ceremony: string };

const sealing = () => ChallengeSealing.fromSecret(env.CREDENTIAL_ENCRYPTION_KEY);

/** Opens a challenge the server issued, with the server's own key (only tests do this). */
export async function openChallenge(challenge: string): Promise<SealedChallenge> {
  const opened = await (await sealing()).open(fromBase64URL(challenge));
  if (!opened) throw new Error("not a sealed challenge of this server");
  return opened as SealedChallenge;
}

/** The challenge sealed again with some fields changed: what only a holder of the server key could make. */
export async function resealChallenge(challenge: string, changes: Partial<SealedChallenge>): Promise<string> {
  const opened = await openChallenge(challenge);
  return toBase64URL(await (await sealing()).seal({ ...opened, ...changes }));
}

/** The object that arbitrates the challenge's one spend. */
export async function spendObjectOf(challenge: string) {
  const { spendId } = await openChallenge(challenge);
  return env.CHALLENGES.get(env.CHALLENGES.idFromString(spendId));
}
