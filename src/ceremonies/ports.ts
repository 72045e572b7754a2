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
  now: () => Date;
};
