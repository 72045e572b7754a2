import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { api, ORIGIN, registrationOptions, signIn, signUp, uniqueUsername } from "./support/api";

type CredentialRecord = Record<string, unknown> & {
  sign_count: number;
  backup_eligible: number;
  backup_state: number;
  device_type: string;
  flag: string | null;
  flagged_at: number | null;
};

async function storedCredential(userId: string): Promise<CredentialRecord> {
  const row = await env.DB.prepare("SELECT * FROM credentials WHERE user_id = ?")
    .bind(userId)
    .first<CredentialRecord>();
  if (!row) throw new Error("no credential row");
  return row;
}

let warn: MockInstance<typeof console.warn>;
beforeEach(() => {
  warn = vi.spyOn(console, "warn");
});
afterEach(() => vi.restoreAllMocks());

/** Security events the Worker logged during this test (it runs in the test's isolate). */
const securityEvents = () =>
  warn.mock.calls
    .map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)
    .filter((line) => line.type === "security_event");

const refused = { code: "AUTHENTICATION_FAILED", message: "Authentication failed" };

describe("sign counter regression (a cloned authenticator)", () => {
  it.each([
    ["goes backwards", 1],
    ["repeats", 2],
    ["drops to zero", 0],
  ])("refuses an assertion whose counter %s, flags the passkey and changes nothing else", async (_name, replayed) => {
    const user = await signUp();
    expect((await signIn(user.authenticator, user.username)).status).toBe(200);
    expect((await signIn(user.authenticator, user.username)).status).toBe(200);
    const before = await storedCredential(user.userId);
    expect(before.sign_count).toBe(2);

    const response = await signIn(user.authenticator, user.username, { signCount: replayed });
    expect(response.status).toBe(401);
    expect(response.body.error).toEqual(refused);

    const after = await storedCredential(user.userId);
    expect(after.flag).toBe("clone_suspected");
    expect(after.flagged_at).toEqual(expect.any(Number));
    expect({ ...after, flag: null, flagged_at: null }).toEqual(before);
    expect(securityEvents()).toContainEqual(
      expect.objectContaining({
        event: "clone_suspected",
        outcome: "failure",
        reason: `counter_not_increasing:2->${replayed}`,
        userId: user.userId,
        credentialRowId: user.passkeyId,
      }),
    );
  });

  it("does not let a forged assertion (bad signature) with a low counter raise the alarm", async () => {
    const user = await signUp();
    expect((await signIn(user.authenticator, user.username)).status).toBe(200);
    const response = await signIn(user.authenticator, user.username, { signCount: 0, corruptSignature: true });
    expect(response.status).toBe(401);
    expect((await storedCredential(user.userId)).flag).toBeNull();
    expect(securityEvents().map((e) => e.event)).not.toContain("clone_suspected");
  });

  it("keeps the flag, and keeps serving the genuine authenticator, once its counter moves on", async () => {
    const user = await signUp();
    expect((await signIn(user.authenticator, user.username, { signCount: 5 })).status).toBe(200);
    expect((await signIn(user.authenticator, user.username, { signCount: 3 })).status).toBe(401);
    const next = await signIn(user.authenticator, user.username, { signCount: 6 });
    expect(next.status).toBe(200);
    const stored = await storedCredential(user.userId);
    expect(stored.sign_count).toBe(6);
    expect(stored.flag).toBe("clone_suspected");
  });

  it("keeps the first signal and its time when a later refused assertion raises another", async () => {
    const user = await signUp(uniqueUsername(), { backupEligible: true, backupState: true });
    expect((await signIn(user.authenticator, user.username, { signCount: 5 })).status).toBe(200);
    expect((await signIn(user.authenticator, user.username, { signCount: 3 })).status).toBe(401);
    const first = await storedCredential(user.userId);
    expect(first.flag).toBe("clone_suspected");
    const later = await signIn(user.authenticator, user.username, {
      signCount: 9,
      backupEligible: false,
      backupState: false,
    });
    expect(later.status).toBe(401);
    const after = await storedCredential(user.userId);
    expect(after.flag).toBe("clone_suspected");
    expect(after.flagged_at).toBe(first.flagged_at);
    expect(securityEvents().map((e) => e.event)).toContain("backup_flag_regression");
  });
});

describe("backup flags", () => {
  it.each([
    {
      what: "BE going from 1 to 0",
      registered: { backupEligible: true, backupState: true },
      asserted: { backupEligible: false, backupState: false },
      reason: "backup_eligible_cleared",
    },
    {
      what: "BS=1 with BE=0",
      registered: {},
      asserted: { backupEligible: false, backupState: true },
      reason: "backup_state_without_eligibility",
    },
  ])("refuses $what, flags the passkey and changes nothing else", async ({ registered, asserted, reason }) => {
    const user = await signUp(uniqueUsername(), registered);
    const before = await storedCredential(user.userId);
    expect(before.backup_eligible).toBe(registered.backupEligible ? 1 : 0);

    const response = await signIn(user.authenticator, user.username, asserted);
    expect(response.status).toBe(401);
    expect(response.body.error).toEqual(refused);

    const after = await storedCredential(user.userId);
    expect(after.flag).toBe("backup_flag_regression");
    expect({ ...after, flag: null, flagged_at: null }).toEqual(before);
    expect(securityEvents()).toContainEqual(
      expect.objectContaining({
        event: "backup_flag_regression",
        outcome: "failure",
        reason,
        credentialRowId: user.passkeyId,
      }),
    );
  });

  it("refuses a forged BS=1 with BE=0 without flagging the passkey", async () => {
    const user = await signUp();
    const response = await signIn(user.authenticator, user.username, {
      backupEligible: false,
      backupState: true,
      corruptSignature: true,
    });
    expect(response.status).toBe(401);
    expect(response.body.error).toEqual(refused);
    expect((await storedCredential(user.userId)).flag).toBeNull();
    expect(securityEvents().map((e) => e.event)).not.toContain("backup_flag_regression");
  });

  it("refuses to register a passkey that claims BS=1 with BE=0", async () => {
    const username = uniqueUsername();
    const authenticator = await SoftAuthenticator.create({ backupEligible: false, backupState: true });
    const options = await registrationOptions({ username });
    const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
    const response = await api("POST", "/api/v1/registration/verify", { credential });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("REGISTRATION_FAILED");
  });

  it("accepts BE going from 0 to 1 and stores it", async () => {
    const user = await signUp();
    const response = await signIn(user.authenticator, user.username, { backupEligible: true, backupState: false });
    expect(response.status).toBe(200);
    const stored = await storedCredential(user.userId);
    expect(stored).toMatchObject({ backup_eligible: 1, backup_state: 0, device_type: "multiDevice", flag: null });
  });

  it("stores BS changes both ways", async () => {
    const user = await signUp(uniqueUsername(), { backupEligible: true, backupState: false });
    expect((await storedCredential(user.userId)).backup_state).toBe(0);

    const backedUp = await signIn(user.authenticator, user.username, { backupState: true });
    expect(backedUp.status).toBe(200);
    expect(backedUp.body.data.backedUp).toBe(true);
    expect((await storedCredential(user.userId)).backup_state).toBe(1);

    const notBackedUp = await signIn(user.authenticator, user.username, { backupState: false });
    expect(notBackedUp.status).toBe(200);
    expect((await storedCredential(user.userId)).backup_state).toBe(0);
    expect((await storedCredential(user.userId)).flag).toBeNull();
  });
});

describe("synced passkeys", () => {
  it("signs in many times with counters that stay at 0, without any alarm", async () => {
    const user = await signUp(uniqueUsername(), { countSignatures: false, backupEligible: true, backupState: true });
    for (let i = 0; i < 12; i++) {
      const response = await signIn(user.authenticator, user.username);
      expect(response.status).toBe(200);
      expect(response.body.data).toMatchObject({ signCount: 0, backedUp: true });
    }
    const stored = await storedCredential(user.userId);
    expect(stored).toMatchObject({ sign_count: 0, flag: null, backup_eligible: 1, backup_state: 1 });
    expect(securityEvents()).toEqual([]);
  });
});
