import { type Config, configurationError } from "../config/config";
import { SessionTokens } from "../sessions/session-tokens";
import { ChallengeSealing } from "./challenge-sealing";
import { CredentialIdProtection } from "./credential-id-protection";

export type ServerKeys = {
  credentialIds: CredentialIdProtection;
  sessions: SessionTokens;
  challenges: ChallengeSealing;
};

// Importing keys costs more than a request should pay, so it happens once per parsed
// configuration (which the configuration middleware keeps per isolate and env object).
const cache = new WeakMap<Config, Promise<ServerKeys>>();

export function loadServerKeys(config: Config): Promise<ServerKeys> {
  let keys = cache.get(config);
  if (!keys) {
    keys = importKeys(config);
    cache.set(config, keys);
    // A failed import is not cached, so fixing the secret takes effect without a redeploy.
    keys.catch(() => cache.delete(config));
  }
  return keys;
}

async function importKeys(config: Config): Promise<ServerKeys> {
  try {
    const [credentialIds, sessions, challenges] = await Promise.all([
      CredentialIdProtection.fromSecrets(config.secrets.credentialEncryptionKey, config.secrets.credentialIdHmacKey),
      SessionTokens.fromSecret(config.secrets.sessionSigningKey, config.rpId, config.sessionTtlSeconds),
      ChallengeSealing.fromSecret(config.secrets.credentialEncryptionKey),
    ]);
    return { credentialIds, sessions, challenges };
  } catch (error) {
    const message = error instanceof Error ? error.message : "key import failed";
    const variable = /^([A-Z_]+):/.exec(message)?.[1] ?? "secrets";
    throw configurationError([variable], message);
  }
}
