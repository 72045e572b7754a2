import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { type UserVerificationLevel, userVerificationLevels } from "../config/config";
import type { ChallengeSealing } from "../crypto/challenge-sealing";
import { type Bytes, fromBase64URL, randomBytes, toBase64URL } from "../crypto/encoding";

/**
 * Where a ceremony's state waits between its options call and its verify call: sealed into
 * the challenge itself, or stored in this object under the challenge (see ChallengeStore).
 * The ceremony's policy chooses (src/ceremonies/policy.ts).
 */
export type ChallengeStorage = "sealed" | "stored";

/**
 * The session that started an add-passkey ceremony: the passkey its token speaks for, when
 * it expires and its token id (a signed-out session is refused). The passkey is added only while that session is still good (checked in the
 * insert itself), so a ceremony never outlives the session that asked for it.
 */
export type StartingSession = { passkeyId: string; expiresAt: number; sessionId: string };

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
      /** The session that asked to add a passkey (native API; absent for a new account). */
      session?: StartingSession;
      /** Conditional create: the browser may create the passkey without a user gesture. */
      conditional: boolean;
      /** The policy that started the ceremony, unless the native API's (src/ceremonies/policy.ts). */
      policy?: string;
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
      /** The policy that started the ceremony, unless the native API's (src/ceremonies/policy.ts). */
      policy?: string;
    };

/** A ceremony's state before it has a challenge: `issue` makes one. */
export type NewChallengeState = ChallengeState extends infer S
  ? S extends unknown
    ? Omit<S, "challenge">
    : never
  : never;

const STATE = "state";
const SPENT = "spent";
/**
 * A spent record outlives its challenge's expiry by this much before the alarm removes it,
 * so a clock difference between the Worker that checked the expiry and this object cannot
 * open a window in which a removed record would let the challenge be spent again.
 */
const SPENT_GRACE_MS = 60_000;

/**
 * Arbiter of "each challenge is used once". Two uses, one class:
 *
 * - Native API (sealed challenges): the ceremony's state travels inside the challenge
 *   (ChallengeSealing), and one object per ceremony, minted with `newUniqueId()` at options
 *   time and named in the sealed state, only answers `spend`: true the first time, false ever
 *   after. Nothing is written at options time; the object comes into being at verify.
 * - Stored state (the FIDO conformance binding, whose challenges must be 16-64 bytes, too short
 *   to carry state): the state is `put` at options and `take`n at verify (one object per
 *   challenge, by name).
 *
 * Reads and writes use the synchronous SQLite-backed KV API, so `spend` and `take` decide with
 * no await in between: no other call into this object can run in the middle, and a second
 * call, concurrent or later, sees the first one's write.
 */
export class ChallengeStore extends DurableObject<Env> {
  /** True for exactly one call per object (until `release`); refuses an expired challenge. */
  async spend(expiresAt: number): Promise<boolean> {
    if (expiresAt <= Date.now()) return false;
    if (this.ctx.storage.kv.get(SPENT) !== undefined) return false;
    this.ctx.storage.kv.put(SPENT, expiresAt);
    await this.ctx.storage.setAlarm(expiresAt + SPENT_GRACE_MS);
    return true;
  }

  /**
   * Undoes a `spend` whose request was then refused by the rate limiter, so a refused request
   * changes nothing. Only the request that spent calls it: nobody else was told "true".
   */
  async release(): Promise<void> {
    this.ctx.storage.kv.delete(SPENT);
  }

  async put(state: ChallengeState): Promise<void> {
    this.ctx.storage.kv.put(STATE, state);
    await this.ctx.storage.setAlarm(state.expiresAt);
  }

  async take(): Promise<ChallengeState | null> {
    const state = this.ctx.storage.kv.get<ChallengeState>(STATE);
    if (state === undefined) return null;
    this.ctx.storage.kv.delete(STATE);
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

/**
 * What the verify step expects: a challenge of another kind, or started under another policy,
 * is unknown to it. `storage` says where the policy keeps its state.
 */
export type ExpectedCeremony<K extends ChallengeState["ceremony"]> = {
  ceremony: K;
  policy: string | undefined;
  storage: ChallengeStorage;
};

/** The state of one kind of ceremony. */
export type StateOf<K extends ChallengeState["ceremony"]> = Extract<ChallengeState, { ceremony: K }>;

/** Ceremonies see this port, not the binding: start a ceremony, redeem its challenge exactly once. */
export type ChallengePort = {
  /** The challenge bytes for a new ceremony. Sealed: no storage call at all. */
  issue(state: NewChallengeState, storage: ChallengeStorage): Promise<Bytes>;
  /**
   * The state of a challenge this server issued for `expected`, spending it, or null when it
   * is unknown, altered, expired, of another kind, or already spent. The spend waits together
   * with the request's admission (the rate limiter's verdict); a refused request throws that
   * refusal and leaves the challenge unspent.
   */
  redeem<K extends ChallengeState["ceremony"]>(
    challenge: string,
    expected: ExpectedCeremony<K>,
  ): Promise<StateOf<K> | null>;
};

/** What the sealed challenge holds: the state, and the id of the object that arbitrates its one spend. */
type SealedState = NewChallengeState & { spendId: string };

/** Stored-state challenges: 32 random bytes, within the FIDO conformance binding's 16-64. */
const STORED_CHALLENGE_BYTES = 32;

export function challengePort(
  namespace: ChallengeStoreNamespace,
  sealing: ChallengeSealing,
  /** The rate limiter's verdict on this request: resolves when admitted, throws its refusal. */
  admission: () => Promise<void>,
  /** Logs a fault the answer goes out without (a `background_fault` named `what`). */
  report: (what: string, error: unknown) => void,
): ChallengePort {
  const stored = (challenge: string) => namespace.get(namespace.idFromName(challenge));
  return {
    async issue(state, storage) {
      if (storage === "stored") {
        const challenge = randomBytes(STORED_CHALLENGE_BYTES);
        const key = toBase64URL(challenge);
        await stored(key).put({ ...state, challenge: key } as ChallengeState);
        return challenge;
      }
      // An id minted here names no object yet and needs no lookup; the object is created
      // (near the Worker that spends it) by the first call at verify.
      const sealed: SealedState = { ...state, spendId: namespace.newUniqueId().toString() };
      return sealing.seal(sealed);
    },

    async redeem<K extends ChallengeState["ceremony"]>(
      challenge: string,
      expected: ExpectedCeremony<K>,
    ): Promise<StateOf<K> | null> {
      if (expected.storage === "stored") {
        const [, state] = await Promise.all([admission(), stored(challenge).take()]);
        // A found state must be for exactly this challenge (guards against a name collision).
        if (!state || state.challenge !== challenge || state.ceremony !== expected.ceremony) return null;
        return state.policy === expected.policy ? (state as StateOf<K>) : null;
      }
      const opened = await openSealed(challenge, sealing);
      if (
        !opened ||
        opened.ceremony !== expected.ceremony ||
        opened.policy !== expected.policy ||
        opened.expiresAt <= Date.now()
      ) {
        // The refusal is this request's answer only if the limiter let it through.
        await admission();
        return null;
      }
      const spender = namespace.get(namespace.idFromString(opened.spendId));
      const [admitted, spent] = await Promise.allSettled([admission(), spender.spend(opened.expiresAt)]);
      if (admitted.status === "rejected") {
        // Refused by the limiter after all: give the challenge back so the refusal changed nothing.
        // If that fails the answer is still the limiter's; the challenge stays spent (its
        // response gets 400 INVALID_CHALLENGE if sent again: a new ceremony is needed).
        if (spent.status === "fulfilled" && spent.value) {
          try {
            await spender.release();
          } catch (error) {
            report("challenge_release", error);
          }
        }
        throw admitted.reason;
      }
      if (spent.status === "rejected") throw spent.reason;
      if (!spent.value) return null;
      const { spendId: _spendId, ...state } = opened;
      return { ...state, challenge } as StateOf<K>;
    },
  };
}

/**
 * The shape a sealed state must have to be used. Only this server can seal, but a ceremony in
 * flight across a deploy carries the state as the previous version wrote it (an add-passkey
 * session without its `sessionId`, say): such a challenge is refused as unknown, never used
 * with a field missing.
 */
const sealedStateSchema = z.discriminatedUnion("ceremony", [
  z.object({
    ceremony: z.literal("registration"),
    expiresAt: z.number(),
    userVerification: z.enum(userVerificationLevels),
    userId: z.string(),
    username: z.string(),
    displayName: z.string(),
    existingUser: z.boolean(),
    session: z.object({ passkeyId: z.string(), expiresAt: z.number(), sessionId: z.string() }).optional(),
    conditional: z.boolean(),
    profile: z.literal("fido-conformance").optional(),
    spendId: z.string(),
  }),
  z.object({
    ceremony: z.literal("authentication"),
    expiresAt: z.number(),
    userVerification: z.enum(userVerificationLevels),
    userId: z.string().nullable(),
    decoy: z.boolean().optional(),
    profile: z.literal("fido-conformance").optional(),
    spendId: z.string(),
  }),
]) satisfies z.ZodType<SealedState>;

async function openSealed(challenge: string, sealing: ChallengeSealing): Promise<SealedState | null> {
  let bytes: Bytes;
  try {
    bytes = fromBase64URL(challenge);
  } catch {
    return null;
  }
  // Authenticated by AES-GCM under our key: only this server could have written it.
  const parsed = sealedStateSchema.safeParse(await sealing.open(bytes));
  return parsed.success ? parsed.data : null;
}
