import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { signUp } from "./support/api";
import { captureLogLines } from "./support/log-lines";
import { newKey, type TestWorker, testWorker } from "./support/test-worker";

// The cron sweep's two quiet paths (test/credential-id-protection.test.ts covers the main one):
// a row it cannot open must not stop the sweep, and an index-only rotation is reported, not run.
describe("re-key sweep: rows it cannot open, rotations it cannot do", () => {
  afterEach(() => vi.restoreAllMocks());

  async function runCron(rotating: TestWorker): Promise<Record<string, unknown>[]> {
    const lines = captureLogLines();
    await rotating.scheduled();
    vi.restoreAllMocks();
    return lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.type === "credential_id_rekey");
  }

  it("counts a row it cannot open as unreadable, warns, and still re-keys the others", async () => {
    await env.DB.prepare("DELETE FROM users").run();
    const [damaged, healthy] = await Promise.all([signUp(), signUp()]);
    // Another row's blind index as associated data: the ciphertext no longer opens on this row.
    const rows = await env.DB.prepare(
      "SELECT c.id, c.credential_id_hash FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.username IN (?, ?) ORDER BY u.username = ?",
    )
      .bind(damaged.username, healthy.username, damaged.username)
      .all<{ id: string; credential_id_hash: string }>();
    const [healthyRow, damagedRow] = rows.results;
    if (!healthyRow || !damagedRow) throw new Error("expected both rows");
    await env.DB.prepare(
      "UPDATE credentials SET credential_id_encrypted = (SELECT credential_id_encrypted FROM credentials WHERE id = ?) WHERE id = ?",
    )
      .bind(healthyRow.id, damagedRow.id)
      .run();

    const sealingKey = `k9:${newKey()}`;
    const rotating = testWorker({
      env: {
        CREDENTIAL_ENCRYPTION_KEY: `${sealingKey},${env.CREDENTIAL_ENCRYPTION_KEY}`,
      },
    });
    const logs = await runCron(rotating);

    expect(logs).toEqual([
      expect.objectContaining({
        level: "warn",
        outcome: "in_progress",
        currentKeyId: "k9",
        unreadable: 1,
        remaining: 1,
      }),
    ]);
    const sealed = await env.DB.prepare("SELECT id, credential_id_encrypted AS sealed FROM credentials").all<{
      id: string;
      sealed: string;
    }>();
    expect(sealed.results.find((row) => row.id === healthyRow.id)?.sealed).toMatch(/^k9:/);
    expect(sealed.results.find((row) => row.id === damagedRow.id)?.sealed).not.toMatch(/^k9:/);
    // The re-keyed passkey still signs in under the new key alone.
    const finished = testWorker({ env: { CREDENTIAL_ENCRYPTION_KEY: sealingKey } });
    expect((await finished.signIn(healthy.authenticator, healthy.username)).status).toBe(200);
  });

  it("skips an index-key rotation without a new encryption key, and says why", async () => {
    const before = await env.DB.prepare(
      "SELECT id, credential_id_hash, credential_id_encrypted FROM credentials",
    ).all();
    const rotating = testWorker({ env: { CREDENTIAL_ID_HMAC_KEY: `${newKey()},${env.CREDENTIAL_ID_HMAC_KEY}` } });
    const logs = await runCron(rotating);

    expect(logs).toEqual([
      expect.objectContaining({
        level: "warn",
        outcome: "skipped",
        reason: "index_key_rotation_without_new_encryption_key",
      }),
    ]);
    const after = await env.DB.prepare("SELECT id, credential_id_hash, credential_id_encrypted FROM credentials").all();
    expect(after.results).toEqual(before.results);
  });
});
