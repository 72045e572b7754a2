import { DurableObject } from "cloudflare:workers";
import type { UserVerificationLevel } from "../config/config";

/**
 * "fido-conformance": the ceremony was started through the FIDO conformance binding
 * (docs/conformance.md), whose rules differ from the native API's: more algorithms, and
 * assertions without user presence accepted unless user verification was required.
 */
export type CeremonyProfile = "fido-conformance";

/** What a ceremony remembers between its options call and its verify call. */
export type ChallengeState =
  | {
      ceremony: "registration";
      challenge: string;
      expiresAt: number;
      userVerification: UserVerificationLevel;
      userId: string;
      username: string;
      displayName: string;
      /** True when a signed-in user is adding a passkey to an existing account. */
      existingUser: boolean;
      /** Conditional create: the browser may create the passkey without a user gesture. */
      conditional: boolean;
      /** Started by the FIDO conformance binding: its rules apply at verification. */
      profile?: CeremonyProfile;
    }
  | {
      ceremony: "authentication";
      challenge: string;
      expiresAt: number;
      userVerification: UserVerificationLevel;
      /** The account the ceremony was started for; null for a discoverable (usernameless) one. */
      userId: string | null;
      /**
       * The username named no account that can sign in and was answered with decoy ids:
       * no credential at all may pass (else a name's existence shows in the outcome).
       */
      decoy?: boolean;
      /** Started by the FIDO conformance binding: its rules apply at verification. */
      profile?: CeremonyProfile;
    };

const KEY = "state";

/**
 * One instance per challenge (`idFromName(challenge)`). Reads and writes use the
 * synchronous SQLite-backed KV API, so `take` reads and deletes with no await in between:
 * no other call into this object can run in the middle, and a second `take`, concurrent
 * or later, finds nothing. The alarm only cleans up a challenge nobody took; `take` cancels
 * it, so a finished ceremony leaves an object with nothing stored and nothing to wake it.
 */
export class ChallengeStore extends DurableObject<Env> {
  async put(state: ChallengeState): Promise<void> {
    this.ctx.storage.kv.put(KEY, state);
    await this.ctx.storage.setAlarm(state.expiresAt);
  }

  async take(): Promise<ChallengeState | null> {
    const state = this.ctx.storage.kv.get<ChallengeState>(KEY);
    if (state === undefined) return null;
    this.ctx.storage.kv.delete(KEY);
    // Expired challenges are refused even if the alarm has not run yet.
    const fresh = state.expiresAt > Date.now();
    await this.ctx.storage.deleteAlarm();
    return fresh ? state : null;
  }

  /** Cheap round trip for the health check. */
  ping(): "pong" {
    return "pong";
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}

export type ChallengeStoreNamespace = DurableObjectNamespace<ChallengeStore>;

/** Ceremonies see this port, not the binding: put a new challenge, take it back exactly once. */
export type ChallengePort = {
  put(state: ChallengeState): Promise<void>;
  take(challenge: string): Promise<ChallengeState | null>;
};

export function challengePort(namespace: ChallengeStoreNamespace): ChallengePort {
  const stub = (challenge: string) => namespace.get(namespace.idFromName(challenge));
  return {
    put: (state) => stub(state.challenge).put(state),
    take: async (challenge) => {
      const state = await stub(challenge).take();
      // A found state must be for exactly this challenge (guards against a name collision).
      return state && state.challenge === challenge ? state : null;
    },
  };
}
