import { type Config, configurationError } from "../config/config";
import { ConfigError } from "../errors";
import { SessionTokens } from "../sessions/session-tokens";
import { ChallengeSealing } from "./challenge-sealing";
import { CredentialIdProtection } from "./credential-id-protection";

export type ServerKeys = {
  credentialIds: CredentialIdProtection;
  sessions: SessionTokens;
  challenges: ChallengeSealing;
};

// Per-isolate cache: importing keys costs more than a request should pay, so it happens once
// per parsed configuration (which the configuration middleware keeps per isolate and env
// object). The CryptoKeys are not extractable; nothing here outlives the isolate.
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
    // The parsers throw ConfigError naming the secret; anything else is a key the runtime refused.
    if (error instanceof ConfigError) throw configurationError([error.variable], error.message, error);
    throw configurationError(["secrets"], error instanceof Error ? error.message : "key import failed", error);
  }
}
