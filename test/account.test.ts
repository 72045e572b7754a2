import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, authenticationOptions, bearer, ORIGIN, registrationOptions, signIn, signUp } from "./support/api";
import { addPasskey, storedRows, watchSecurityEvents } from "./support/management";

afterEach(() => vi.restoreAllMocks());

describe("GET /api/v1/me", () => {
  it("describes the account, the session, and what the browser needs to sync its passkeys", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    const response = await api("GET", "/api/v1/me", undefined, bearer(user.token));

    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({
      user: {
        id: user.userId,
        username: user.username,
        displayName: `Display ${user.username}`,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        isActive: true,
      },
      session: { passkeyId: user.passkeyId, userVerified: true, expiresAt: expect.stringMatching(/^\d{4}-/) },
      passkeyCount: 2,
      signals: [
        {
          method: "signalAllAcceptedCredentials",
          options: {
            rpId: "localhost",
            userId: user.userId,
            allAcceptedCredentialIds: [
              user.authenticator.credentialIdBase64URL,
              second.authenticator.credentialIdBase64URL,
            ],
          },
        },
        {
          method: "signalCurrentUserDetails",
          options: {
            rpId: "localhost",
            userId: user.userId,
            name: user.username,
            displayName: `Display ${user.username}`,
          },
        },
      ],
    });
  });
});

describe("DELETE /api/v1/me", () => {
  it("deletes the account and every passkey, and says what the browser should forget", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    const events = watchSecurityEvents();
    const response = await api("DELETE", "/api/v1/me", undefined, bearer(user.token));

    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({
      userId: user.userId,
      deletedPasskeys: 2,
      signals: [
        {
          method: "signalAllAcceptedCredentials",
          options: { rpId: "localhost", userId: user.userId, allAcceptedCredentialIds: [] },
        },
        {
          method: "signalUnknownCredential",
          options: { rpId: "localhost", credentialId: user.authenticator.credentialIdBase64URL },
        },
        {
          method: "signalUnknownCredential",
          options: { rpId: "localhost", credentialId: second.authenticator.credentialIdBase64URL },
        },
      ],
    });
    // No orphans: neither the account nor any passkey row is left.
    expect(await storedRows(user.userId)).toEqual({ users: 0, credentials: 0 });
    expect(events()).toContainEqual(
      expect.objectContaining({ event: "account_deleted", outcome: "success", userId: user.userId }),
    );
  });

  it("leaves the token useless and the passkeys unknown, and frees the username", async () => {
    const user = await signUp();
    expect((await api("DELETE", "/api/v1/me", undefined, bearer(user.token))).status).toBe(200);

    expect((await api("GET", "/api/v1/me", undefined, bearer(user.token))).status).toBe(401);
    expect((await api("DELETE", "/api/v1/me", undefined, bearer(user.token))).status).toBe(401);
    // A token of a deleted account is refused where it would add a passkey too.
    const withToken = await registrationOptions({ username: user.username }, bearer(user.token));
    expect(withToken.status).toBe(401);

    const signInAgain = await signIn(user.authenticator);
    expect(signInAgain.status).toBe(401);
    expect(signInAgain.body.error.details).toEqual({
      signals: [
        {
          method: "signalUnknownCredential",
          options: { rpId: "localhost", credentialId: user.authenticator.credentialIdBase64URL },
        },
      ],
    });

    const again = await signUp(user.username);
    expect(again.userId).not.toBe(user.userId);
  });

  it("is one transaction: when the account row cannot be deleted, no passkey is deleted either", async () => {
    const user = await signUp();
    await addPasskey(user);
    // A fault injected into the real database: the second statement of the batch fails.
    const trigger = `refuse_delete_${user.userId.replaceAll(/[^A-Za-z0-9]/g, "_")}`;
    await env.DB.prepare(
      `CREATE TRIGGER ${trigger} BEFORE DELETE ON users WHEN OLD.id = '${user.userId}'
       BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
    ).run();
    try {
      const response = await api("DELETE", "/api/v1/me", undefined, bearer(user.token));
      expect(response.status).toBe(500);
      expect(await storedRows(user.userId)).toEqual({ users: 1, credentials: 2 });
    } finally {
      await env.DB.prepare(`DROP TRIGGER ${trigger}`).run();
    }
    expect((await api("DELETE", "/api/v1/me", undefined, bearer(user.token))).status).toBe(200);
    expect(await storedRows(user.userId)).toEqual({ users: 0, credentials: 0 });
  });

  it("runs on a database that enforces foreign keys, so no passkey can point at a missing account", async () => {
    expect(await env.DB.prepare("PRAGMA foreign_keys").first()).toEqual({ foreign_keys: 1 });
    const orphan = env.DB.prepare(
      `INSERT INTO credentials (id, user_id, credential_id_hash, credential_id_encrypted, public_key, algorithm,
         aaguid, device_type, backup_eligible, backup_state, user_verified, attestation_format, name)
       VALUES ('orphan', 'no-such-user', 'h-orphan', 'e', 'k', -7, 'a', 'singleDevice', 0, 0, 0, 'none', 'n')`,
    ).run();
    await expect(orphan).rejects.toThrow(/FOREIGN KEY/);
  });
});

describe("a session of another account", () => {
  it("only ever sees and deletes its own account", async () => {
    const alice = await signUp();
    const bob = await signUp();
    const me = await api("GET", "/api/v1/me", undefined, bearer(bob.token));
    expect(me.body.data.user.id).toBe(bob.userId);
    expect((await api("DELETE", "/api/v1/me", undefined, bearer(bob.token))).status).toBe(200);
    expect(await storedRows(alice.userId)).toEqual({ users: 1, credentials: 1 });
    const options = await authenticationOptions({ username: alice.username });
    const credential = await alice.authenticator.assert(options.body.data, { origin: ORIGIN });
    expect((await api("POST", "/api/v1/authentication/verify", { credential })).status).toBe(200);
  });
});
