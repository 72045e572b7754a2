import type { Config } from "../config/config";
import type { CredentialIdProtection } from "../crypto/credential-id-protection";
import type { CredentialRepository } from "../db/credential-repository";
import type { MetadataRepository } from "../db/metadata-repository";
import type { RevokedSessionRepository } from "../db/revoked-session-repository";
import type { UserRepository } from "../db/user-repository";
import type { ChallengePort } from "../durable-objects/challenge-store";
import type { SecurityEvents } from "../observability/security-events";
import type { SessionTokens } from "../sessions/session-tokens";

/** Everything a ceremony may touch. Routes build it; ceremonies never see HTTP. */
export type CeremonyPorts = {
  config: Config;
  challenges: ChallengePort;
  users: UserRepository;
  credentials: CredentialRepository;
  revokedSessions: RevokedSessionRepository;
  /** FIDO metadata (MDS3) entries, read when ATTESTATION_TRUST is "mds". */
  metadata: MetadataRepository;
  credentialIds: CredentialIdProtection;
  sessions: SessionTokens;
  events: SecurityEvents;
  /** Work the answer must not fail with (src/services.ts). */
  background: Background;
  now: () => Date;
  /**
   * The rate limiter's verdict on this request: resolves once admitted, throws the refusal.
   * Asked alongside the first storage call; nothing may be written before it resolves.
   */
  admission: () => Promise<void>;
  /**
   * Runs a write nothing needs at once after the answer is sent (ctx.waitUntil); if it fails,
   * a `background_fault` named `what` is logged.
   */
  defer: (what: string, task: () => Promise<unknown>) => void;
};

export type Background = {
  /**
   * Runs `task` now; if it fails the answer goes ahead without it, and it is tried once more
   * after the answer is sent (the request's waitUntil). A second failure is logged as a
   * `background_fault` named `what`. Never throws: for writes an answer must not fail with
   * (a refused sign-in's flag).
   */
  attempt(what: string, task: () => Promise<unknown>): Promise<void>;
  /** Logs a fault the answer was given without (a read that only decorates it). */
  report(what: string, error: unknown): void;
};
