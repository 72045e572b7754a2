import { type Config, configurationError } from "../config/config";
import { SessionTokens } from "../sessions/session-tokens";
import { CredentialIdProtection } from "./credential-id-protection";

export type ServerKeys = { credentialIds: CredentialIdProtection; sessions: SessionTokens };

// Importing keys costs more than a request should pay, so it happens once per isolate per
// set of secrets (a secret rotation brings a new isolate and a new cache entry).
const cache = new Map<string, Promise<ServerKeys>>();

export function loadServerKeys(config: Config): Promise<ServerKeys> {
  const { credentialEncryptionKey, credentialIdHmacKey, sessionSigningKey } = config.secrets;
  const cacheKey = JSON.stringify([
    credentialEncryptionKey,
    credentialIdHmacKey,
    sessionSigningKey,
    config.rpId,
    config.sessionTtlSeconds,
  ]);
  let keys = cache.get(cacheKey);
  if (!keys) {
    keys = importKeys(config);
    cache.set(cacheKey, keys);
    // A failed import is not cached, so fixing the secret takes effect without a redeploy.
    keys.catch(() => cache.delete(cacheKey));
  }
  return keys;
}

async function importKeys(config: Config): Promise<ServerKeys> {
  try {
    const [credentialIds, sessions] = await Promise.all([
      CredentialIdProtection.fromSecrets(config.secrets.credentialEncryptionKey, config.secrets.credentialIdHmacKey),
      SessionTokens.fromSecret(config.secrets.sessionSigningKey, config.rpId, config.sessionTtlSeconds),
    ]);
    return { credentialIds, sessions };
  } catch (error) {
    const message = error instanceof Error ? error.message : "key import failed";
    const variable = /^([A-Z_]+):/.exec(message)?.[1] ?? "secrets";
    throw configurationError([variable], message);
  }
}
