import { env } from "cloudflare:workers";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CredentialIdProtection } from "../src/crypto/credential-id-protection";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { api, bearer, ORIGIN, registrationOptions, signIn, signUp, uniqueUsername } from "./support/api";
import { dumpDatabase, type Row } from "./support/database-dump";
import { newKey, testWorker } from "./support/test-worker";

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const standardBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/**
 * Every spelling of the id worth looking for: raw bytes (searched in the cells' bytes),
 * and its base64url, base64 and hex text, including the base64 characters it would produce
 * inside a longer encoded value at any byte alignment.
 */
function spellings(id: Uint8Array): string[] {
  const texts = [hex(id)];
  for (let shift = 0; shift < 3; shift++) {
    const shifted = new Uint8Array(shift + id.length);
    shifted.set(id, shift);
    const encoded = standardBase64(shifted);
    const core = encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + id.length)) / 6));
    texts.push(core, core.replaceAll("+", "-").replaceAll("/", "_"));
  }
  return texts;
}

function cellBytes(value: unknown): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return new TextEncoder().encode(String(value));
}

function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Where in the dump the id shows up, in any spelling; empty when nowhere. */
function findId(dump: { table: string; rows: Row[] }[], id: Uint8Array): string[] {
  const needles = spellings(id).map((s) => s.toLowerCase());
  const hits: string[] = [];
  for (const { table, rows } of dump) {
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        const bytes = cellBytes(value);
        const text = new TextDecoder().decode(bytes).toLowerCase();
        if (containsBytes(bytes, id) || needles.some((needle) => text.includes(needle))) {
          hits.push(`${table}.${column}`);
        }
      }
    }
  }
  return hits;
}

async function credentialRows(userId: string) {
  const rows = await env.DB.prepare(
    "SELECT id, credential_id_hash, credential_id_encrypted FROM credentials WHERE user_id = ? ORDER BY created_at",
  )
    .bind(userId)
    .all<{ id: string; credential_id_hash: string; credential_id_encrypted: string }>();
  return rows.results;
}

describe("credential ids at rest", () => {
  it("leaves no plaintext credential id in any table, in any encoding", async () => {
    const users = await Promise.all([
      signUp(uniqueUsername(), { algorithm: "ES256" }),
      signUp(uniqueUsername(), { algorithm: "EdDSA", attestation: "packed" }),
      signUp(uniqueUsername(), { algorithm: "RS256" }),
    ]);
    for (const user of users) expect((await signIn(user.authenticator, user.username)).status).toBe(200);
    // A second passkey on the first account.
    const second = await SoftAuthenticator.create();
    const options = await registrationOptions({ username: users[0]?.username }, bearer(users[0]?.token ?? ""));
    const added = await api("POST", "/api/v1/registration/verify", {
      credential: await second.register(options.body.data, { origin: ORIGIN }),
    });
    expect(added.status).toBe(201);

    const dump = await dumpDatabase();
    const credentialsTable = dump.find((t) => t.table === "credentials");
    expect(credentialsTable?.rows.length).toBeGreaterThanOrEqual(4);
    for (const authenticator of [...users.map((u) => u.authenticator), second]) {
      expect(findId(dump, authenticator.credentialId)).toEqual([]);
    }

    // The search itself finds an id wherever one is written in any of those spellings.
    const id = users[0]?.authenticator.credentialId ?? new Uint8Array();
    for (const planted of [id, ...spellings(id).map((s) => new TextEncoder().encode(`x${s}y`))]) {
      expect(findId([{ table: "planted", rows: [{ cell: planted }] }], id)).toEqual(["planted.cell"]);
    }
  });

  it("binds each ciphertext to its row: moved onto another row it does not open", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const [aliceRow] = await credentialRows(alice.userId);
    const [bobRow] = await credentialRows(bob.userId);
    if (!aliceRow || !bobRow) throw new Error("missing rows");
    const protection = await CredentialIdProtection.fromSecrets(
      env.CREDENTIAL_ENCRYPTION_KEY,
      env.CREDENTIAL_ID_HMAC_KEY,
    );

    const opened = await protection.open(aliceRow.credential_id_encrypted, aliceRow.credential_id_hash);
    expect(isoBase64URL.fromBuffer(opened)).toBe(alice.authenticator.credentialIdBase64URL);
    await expect(protection.open(aliceRow.credential_id_encrypted, bobRow.credential_id_hash)).rejects.toThrow();

    // Through the API: Bob's sign-in options with Alice's ciphertext on his row are a fault,
    // and they never hand out Alice's id.
    await env.DB.prepare("UPDATE credentials SET credential_id_encrypted = ? WHERE id = ?")
      .bind(aliceRow.credential_id_encrypted, bobRow.id)
      .run();
    const response = await api("POST", "/api/v1/authentication/challenge", { username: bob.username });
    expect(response.status).toBe(500);
    expect(response.body.error.code).toBe("INTERNAL_ERROR");
    expect(JSON.stringify(response.body)).not.toContain(alice.authenticator.credentialIdBase64URL);
  });

  it("does not open a ciphertext whose bytes were altered", async () => {
    const user = await signUp();
    const [row] = await credentialRows(user.userId);
    if (!row) throw new Error("missing row");
    const protection = await CredentialIdProtection.fromSecrets(
      env.CREDENTIAL_ENCRYPTION_KEY,
      env.CREDENTIAL_ID_HMAC_KEY,
    );
    const last = row.credential_id_encrypted.at(-1) === "A" ? "B" : "A";
    const altered = `${row.credential_id_encrypted.slice(0, -1)}${last}`;
    await expect(protection.open(altered, row.credential_id_hash)).rejects.toThrow();
  });
});

describe("encryption key rotation", () => {
  it("signs in a passkey sealed under k1 after k2 is put first, and re-seals it under k2 then", async () => {
    const user = await signUp();
    const [before] = await credentialRows(user.userId);
    expect(before?.credential_id_encrypted.startsWith("k1:")).toBe(true);

    const rotating = testWorker({
      env: { CREDENTIAL_ENCRYPTION_KEY: `k2:${newKey()},${env.CREDENTIAL_ENCRYPTION_KEY}` },
    });
    // Listing the id for the options still works from the k1 ciphertext.
    const response = await rotating.signIn(user.authenticator, user.username);
    expect(response.status).toBe(200);

    const [after] = await credentialRows(user.userId);
    expect(after?.credential_id_encrypted.startsWith("k2:")).toBe(true);
    expect(after?.credential_id_hash).toBe(before?.credential_id_hash);

    // Once re-sealed, k1 is no longer needed for this passkey.
    const k2Only = rotating.env.CREDENTIAL_ENCRYPTION_KEY.split(",")[0];
    expect(
      (await testWorker({ env: { CREDENTIAL_ENCRYPTION_KEY: k2Only } }).signIn(user.authenticator, user.username))
        .status,
    ).toBe(200);
  });

  it("leaves a row that is already under the current key as it was, apart from the sign-in record", async () => {
    const user = await signUp();
    const [before] = await credentialRows(user.userId);
    expect((await signIn(user.authenticator, user.username)).status).toBe(200);
    const [after] = await credentialRows(user.userId);
    expect(after).toEqual(before);
  });

  it("cannot sign in a passkey whose key was removed before the row was re-sealed", async () => {
    const user = await signUp();
    const withoutK1 = testWorker({ env: { CREDENTIAL_ENCRYPTION_KEY: `k2:${newKey()}` } });
    const response = await withoutK1.api("POST", "/api/v1/authentication/challenge", { username: user.username });
    expect(response.status).toBe(500);
    expect(response.body.error.code).toBe("INTERNAL_ERROR");
  });
});

describe("index key rotation", () => {
  it("finds a passkey indexed under the previous HMAC key and re-indexes it on sign-in", async () => {
    const user = await signUp();
    const [before] = await credentialRows(user.userId);
    const newIndexKey = newKey();
    const rotating = testWorker({
      env: {
        CREDENTIAL_ENCRYPTION_KEY: `k3:${newKey()},${env.CREDENTIAL_ENCRYPTION_KEY}`,
        CREDENTIAL_ID_HMAC_KEY: `${newIndexKey},${env.CREDENTIAL_ID_HMAC_KEY}`,
      },
    });
    expect((await rotating.signIn(user.authenticator, user.username)).status).toBe(200);

    const [after] = await credentialRows(user.userId);
    const current = await CredentialIdProtection.fromSecrets(rotating.env.CREDENTIAL_ENCRYPTION_KEY, newIndexKey);
    expect(after?.credential_id_hash).not.toBe(before?.credential_id_hash);
    expect(after?.credential_id_hash).toBe(await current.blindIndex(user.authenticator.credentialId));
    expect(after?.credential_id_encrypted.startsWith("k3:")).toBe(true);

    // The previous index key can go now.
    const finished = testWorker({
      env: {
        CREDENTIAL_ENCRYPTION_KEY: rotating.env.CREDENTIAL_ENCRYPTION_KEY.split(",")[0],
        CREDENTIAL_ID_HMAC_KEY: newIndexKey,
      },
    });
    expect((await finished.signIn(user.authenticator, user.username)).status).toBe(200);
  });

  it("refuses to register a passkey again while its row is still under the previous index", async () => {
    const owner = await signUp();
    const rotating = testWorker({
      env: {
        CREDENTIAL_ENCRYPTION_KEY: `k4:${newKey()},${env.CREDENTIAL_ENCRYPTION_KEY}`,
        CREDENTIAL_ID_HMAC_KEY: `${newKey()},${env.CREDENTIAL_ID_HMAC_KEY}`,
      },
    });
    const options = await rotating.api("POST", "/api/v1/registration/challenge", { username: uniqueUsername() });
    const credential = await owner.authenticator.register(options.body.data, { origin: ORIGIN });
    const response = await rotating.api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe("CREDENTIAL_EXISTS");
  });
});

describe("re-key sweep (cron trigger)", () => {
  afterEach(() => vi.restoreAllMocks());

  const rekeyLogs = (spy: { mock: { calls: unknown[][] } }) =>
    spy.mock.calls
      .map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)
      .filter((line) => line.type === "credential_id_rekey");

  it("does nothing while only one key of each kind is configured", async () => {
    const info = vi.spyOn(console, "log");
    const warn = vi.spyOn(console, "warn");
    await testWorker().scheduled();
    expect(rekeyLogs(info)).toEqual([]);
    expect(rekeyLogs(warn)).toEqual([]);
  });

  it("re-keys every row still under old keys, so the old keys can be removed", async () => {
    // Earlier tests left rows under keys this run does not have (and one tampered row).
    await env.DB.prepare("DELETE FROM users").run();
    const users = await Promise.all([signUp(), signUp(), signUp()]);
    const newIndexKey = newKey();
    const sealingKey = `k5:${newKey()}`;
    const rotating = testWorker({
      env: {
        CREDENTIAL_ENCRYPTION_KEY: `${sealingKey},${env.CREDENTIAL_ENCRYPTION_KEY}`,
        CREDENTIAL_ID_HMAC_KEY: `${newIndexKey},${env.CREDENTIAL_ID_HMAC_KEY}`,
      },
    });
    const info = vi.spyOn(console, "log");
    await rotating.scheduled();

    const total = await env.DB.prepare("SELECT count(*) AS n FROM credentials").first<{ n: number }>();
    const underK5 = await env.DB.prepare(
      "SELECT count(*) AS n FROM credentials WHERE credential_id_encrypted LIKE 'k5:%'",
    ).first<{ n: number }>();
    expect(underK5?.n).toBe(total?.n);
    expect(rekeyLogs(info)).toEqual([
      expect.objectContaining({ outcome: "complete", currentKeyId: "k5", remaining: 0, unreadable: 0 }),
    ]);

    // Only the new keys now: every passkey still signs in.
    const finished = testWorker({
      env: { CREDENTIAL_ENCRYPTION_KEY: sealingKey, CREDENTIAL_ID_HMAC_KEY: newIndexKey },
    });
    for (const user of users) {
      expect((await finished.signIn(user.authenticator, user.username)).status).toBe(200);
    }
  });
});
