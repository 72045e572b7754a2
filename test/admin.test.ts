import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, bearer, registrationOptions, signIn, signUp, uniqueUsername } from "./support/api";
import { addPasskey, admin, storedRows, watchSecurityEvents } from "./support/management";
import { testWorker } from "./support/test-worker";

afterEach(() => vi.restoreAllMocks());

const asAdmin = (method: string, path: string, body?: unknown) => api(method, `/api/v1/admin${path}`, body, admin);

async function isActive(table: "users" | "credentials", id: string) {
  const row = await env.DB.prepare(`SELECT is_active AS a FROM ${table} WHERE id = ?`).bind(id).first<{ a: number }>();
  return row?.a === 1;
}

describe("admin authorisation", () => {
  const calls = (userId: string, passkeyId: string): [string, string, unknown?][] => [
    ["GET", "/api/v1/admin/users"],
    ["GET", `/api/v1/admin/users/${userId}`],
    ["PATCH", `/api/v1/admin/users/${userId}`, { active: false }],
    ["DELETE", `/api/v1/admin/users/${userId}`],
    ["PATCH", `/api/v1/admin/credentials/${passkeyId}`, { active: false }],
    ["DELETE", `/api/v1/admin/credentials/${passkeyId}`],
  ];

  async function expectRefusedAndUntouched(
    call: (
      method: string,
      path: string,
      body: unknown,
      headers: Record<string, string>,
    ) => Promise<{
      status: number;
      body: { error: { code: string } };
    }>,
    headers: Record<string, string>,
  ) {
    const user = await signUp();
    for (const [method, path, body] of calls(user.userId, user.passkeyId)) {
      const response = await call(method, path, body, headers);
      expect([method, path, response.status, response.body.error?.code]).toEqual([method, path, 401, "UNAUTHORIZED"]);
    }
    expect(await storedRows(user.userId)).toEqual({ users: 1, credentials: 1 });
    expect(await isActive("users", user.userId)).toBe(true);
    expect(await isActive("credentials", user.passkeyId)).toBe(true);
  }

  it.each([
    ["no key", {}],
    ["a wrong key", { authorization: `Bearer ${"x".repeat(43)}` }],
    ["the key without the Bearer scheme", { authorization: admin.authorization.replace("Bearer ", "") }],
    ["the key with a suffix", { authorization: `${admin.authorization}x` }],
  ])("refuses %s with 401 and changes nothing", async (_case, headers) => {
    await expectRefusedAndUntouched(api, headers);
  });

  it("refuses a user's session token", async () => {
    const user = await signUp();
    await expectRefusedAndUntouched(api, bearer(user.token));
  });

  it("refuses everyone, the configured key's holder included, when ADMIN_API_KEY is unset", async () => {
    const worker = testWorker({ env: { ADMIN_API_KEY: "" } });
    await expectRefusedAndUntouched((method, path, body, headers) => worker.api(method, path, body, headers), admin);
  });

  it("does not start with an ADMIN_API_KEY shorter than 32 characters", async () => {
    const worker = testWorker({ env: { ADMIN_API_KEY: "short" } });
    const response = await worker.api("GET", "/api/v1/admin/users", undefined, { authorization: "Bearer short" });
    expect(response.status).toBe(500);
    expect(response.body.error).toMatchObject({
      code: "CONFIGURATION_ERROR",
      details: { variables: ["ADMIN_API_KEY"] },
    });
    expect(JSON.stringify(response.body)).not.toContain('"short"');
  });
});

describe("GET /api/v1/admin/users", () => {
  it("pages through users in username order with an opaque cursor, filtered by prefix", async () => {
    const prefix = uniqueUsername("page");
    const names = [`${prefix}-c`, `${prefix}-a`, `${prefix}-b`];
    const users = await Promise.all(names.map((name) => signUp(name)));
    const [, first] = users;
    if (!first) throw new Error("sign-up failed");
    await addPasskey(first);

    const page1 = await asAdmin("GET", `/users?prefix=${encodeURIComponent(prefix.toUpperCase())}&limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.data.users.map((u: { username: string }) => u.username)).toEqual([`${prefix}-a`, `${prefix}-b`]);
    expect(page1.body.data.users[0]).toEqual({
      id: first.userId,
      username: `${prefix}-a`,
      displayName: `Display ${prefix}-a`,
      createdAt: expect.stringMatching(/^\d{4}-/),
      updatedAt: expect.stringMatching(/^\d{4}-/),
      isActive: true,
      passkeyCount: 2,
    });
    expect(page1.body.data.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);

    const page2 = await asAdmin("GET", `/users?prefix=${prefix}&limit=2&cursor=${page1.body.data.nextCursor}`);
    expect(page2.body.data.users.map((u: { username: string }) => u.username)).toEqual([`${prefix}-c`]);
    expect(page2.body.data.nextCursor).toBeNull();
  });

  it("finds nothing for a prefix nobody has, and treats LIKE wildcards as plain characters", async () => {
    const prefix = uniqueUsername("wild");
    await signUp(`${prefix}-x`);
    expect((await asAdmin("GET", `/users?prefix=${prefix}-y`)).body.data).toEqual({ users: [], nextCursor: null });
    const wildcard = await asAdmin("GET", `/users?prefix=${encodeURIComponent(`${prefix}%`)}`);
    expect(wildcard.body.data.users).toEqual([]);
    const underscore = await asAdmin("GET", `/users?prefix=${encodeURIComponent(prefix.replace("-", "_"))}`);
    expect(underscore.body.data.users).toEqual([]);
  });

  it("lists every user across pages without repeats, all pages the size asked for", async () => {
    const prefix = uniqueUsername("all");
    await Promise.all(Array.from({ length: 5 }, (_, i) => signUp(`${prefix}-${i}`)));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/users?prefix=${prefix}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await asAdmin("GET", query);
      expect(page.body.data.users.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.users.map((u: { username: string }) => u.username));
      cursor = page.body.data.nextCursor;
    } while (cursor);
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `${prefix}-${i}`));
  });

  it.each([
    ["a limit of 0", "?limit=0"],
    ["a limit over 100", "?limit=101"],
    ["a cursor that is not ours", "?cursor=bm90LWEtY3Vyc29y"],
    ["a cursor that is not base64url", "?cursor=%2F%2F%2F"],
    ["an unknown parameter", "?sort=desc"],
  ])("refuses %s with 400", async (_case, query) => {
    const response = await asAdmin("GET", `/users${query}`);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
  });
});

describe("GET /api/v1/admin/users/:id", () => {
  it("shows a user with its passkeys", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    const response = await asAdmin("GET", `/users/${user.userId}`);
    expect(response.status).toBe(200);
    expect(response.body.data.user).toMatchObject({ id: user.userId, username: user.username, isActive: true });
    expect(
      response.body.data.credentials.map((c: { id: string; credentialId: string }) => [c.id, c.credentialId]),
    ).toEqual([
      [user.passkeyId, user.authenticator.credentialIdBase64URL],
      [second.passkeyId, second.authenticator.credentialIdBase64URL],
    ]);
  });

  it("answers 404 USER_NOT_FOUND for an unknown id", async () => {
    const response = await asAdmin("GET", "/users/AAAAAAAAAAAAAAAAAAAAAA");
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("USER_NOT_FOUND");
  });
});

describe("disabling and enabling a user", () => {
  it("stops sign-in and every use of the user's tokens here, until enabled again", async () => {
    const user = await signUp();
    const disabled = await asAdmin("PATCH", `/users/${user.userId}`, { active: false });
    expect(disabled.status).toBe(200);
    expect(disabled.body.data.user).toMatchObject({ id: user.userId, isActive: false });

    // Sign-in by name is answered with decoys; a usernameless one is refused, without any hint
    // that the passkey is unknown (it is not: the browser must keep it for when it is enabled).
    const refused = await signIn(user.authenticator);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toEqual({ code: "AUTHENTICATION_FAILED", message: "Authentication failed" });
    expect((await api("GET", "/api/v1/credentials", undefined, bearer(user.token))).status).toBe(401);
    expect((await api("GET", "/api/v1/me", undefined, bearer(user.token))).status).toBe(401);
    const addPasskeyWithToken = await registrationOptions({ username: user.username }, bearer(user.token));
    expect(addPasskeyWithToken.status).toBe(401);
    expect(addPasskeyWithToken.body.error.code).toBe("UNAUTHORIZED");

    const enabled = await asAdmin("PATCH", `/users/${user.userId}`, { active: true });
    expect(enabled.body.data.user.isActive).toBe(true);
    expect((await signIn(user.authenticator, user.username)).status).toBe(200);
  });

  it("answers 404 for an unknown user and 400 for a body that is not {active: boolean}", async () => {
    expect((await asAdmin("PATCH", "/users/AAAAAAAAAAAAAAAAAAAAAA", { active: false })).status).toBe(404);
    const user = await signUp();
    for (const body of [{}, { active: "false" }, { active: false, username: "x" }]) {
      const response = await asAdmin("PATCH", `/users/${user.userId}`, body);
      expect(response.status).toBe(400);
    }
    expect(await isActive("users", user.userId)).toBe(true);
  });
});

describe("disabling, enabling and removing a passkey", () => {
  it("a disabled passkey cannot sign in; the account's others can; enabled, it can again", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    const disabled = await asAdmin("PATCH", `/credentials/${second.passkeyId}`, { active: false });
    expect(disabled.status).toBe(200);
    expect(disabled.body.data).toMatchObject({ id: second.passkeyId, isActive: false });

    const refused = await signIn(second.authenticator);
    expect(refused.status).toBe(401);
    expect(refused.body.error.details).toBeUndefined();
    expect((await signIn(user.authenticator, user.username)).status).toBe(200);

    await asAdmin("PATCH", `/credentials/${second.passkeyId}`, { active: true });
    expect((await signIn(second.authenticator)).status).toBe(200);
  });

  it("removes any passkey, the last one included; a second removal is 404", async () => {
    const user = await signUp();
    const removed = await asAdmin("DELETE", `/credentials/${user.passkeyId}`);
    expect(removed.status).toBe(200);
    expect(removed.body.data).toEqual({ id: user.passkeyId, userId: user.userId });
    expect(await storedRows(user.userId)).toEqual({ users: 1, credentials: 0 });

    const again = await asAdmin("DELETE", `/credentials/${user.passkeyId}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("CREDENTIAL_NOT_FOUND");
    expect((await asAdmin("PATCH", `/credentials/${user.passkeyId}`, { active: true })).status).toBe(404);
  });
});

describe("DELETE /api/v1/admin/users/:id", () => {
  it("deletes the user and all its passkeys, leaving no orphans", async () => {
    const user = await signUp();
    await addPasskey(user);
    const response = await asAdmin("DELETE", `/users/${user.userId}`);
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({ userId: user.userId, deletedPasskeys: 2 });
    expect(await storedRows(user.userId)).toEqual({ users: 0, credentials: 0 });
    expect((await api("GET", "/api/v1/me", undefined, bearer(user.token))).status).toBe(401);
    expect((await asAdmin("DELETE", `/users/${user.userId}`)).status).toBe(404);
  });
});

describe("the audit trail", () => {
  it("records every admin action, reads included, as a security event", async () => {
    const user = await signUp();
    const second = await addPasskey(user);
    const events = watchSecurityEvents();

    await asAdmin("GET", `/users?prefix=${user.username}`);
    await asAdmin("GET", `/users/${user.userId}`);
    await asAdmin("PATCH", `/users/${user.userId}`, { active: false });
    await asAdmin("PATCH", `/users/${user.userId}`, { active: true });
    await asAdmin("PATCH", `/credentials/${second.passkeyId}`, { active: false });
    await asAdmin("PATCH", `/credentials/${second.passkeyId}`, { active: true });
    await asAdmin("DELETE", `/credentials/${second.passkeyId}`);
    await asAdmin("DELETE", `/users/${user.userId}`);

    const recorded = events().map(({ event, outcome, reason, userId, credentialRowId }) => ({
      event,
      outcome,
      reason,
      userId,
      credentialRowId,
    }));
    const action = (event: string, credentialRowId?: string) => ({
      event,
      outcome: "success",
      reason: "admin_api",
      userId: event === "admin_users_listed" ? undefined : user.userId,
      credentialRowId,
    });
    expect(recorded).toEqual([
      action("admin_users_listed"),
      action("admin_user_viewed"),
      action("admin_user_disabled"),
      action("admin_user_enabled"),
      action("admin_credential_disabled", second.passkeyId),
      action("admin_credential_enabled", second.passkeyId),
      action("admin_credential_removed", second.passkeyId),
      action("admin_user_deleted"),
    ]);
  });

  it("records refused admin calls, with the client and why, never the key that was tried", async () => {
    const events = watchSecurityEvents();
    const guess = "y".repeat(43);
    await api("GET", "/api/v1/admin/users", undefined, {
      authorization: `Bearer ${guess}`,
      "cf-connecting-ip": "192.0.2.7",
    });
    await api("GET", "/api/v1/admin/users");
    expect(events()).toEqual([
      expect.objectContaining({
        event: "admin_auth_failed",
        outcome: "failure",
        reason: "wrong_admin_key",
        client: "ip4:192.0.2.7",
      }),
      expect.objectContaining({ event: "admin_auth_failed", outcome: "failure", reason: "no_admin_key" }),
    ]);
    expect(JSON.stringify(events())).not.toContain(guess);
  });
});
