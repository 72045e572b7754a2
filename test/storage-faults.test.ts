import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AttemptEvent } from "../src/ceremonies/attempt-audit";
import { type AuthenticatorOptions, SoftAuthenticator } from "./authenticator/soft-authenticator";
import { type ApiResponse, bearer, ORIGIN, type SignedUp, signIn, signUp, uniqueUsername } from "./support/api";
import { captureLogLines } from "./support/log-lines";
import { admin, type LoggedEvent } from "./support/management";
import { type FaultMode, faultModes, StorageFaults } from "./support/storage-faults";
import { type Api, freshIPv4, testWorker } from "./support/test-worker";

/** The app over bindings that fail as `faults` says (the harness's `faults` option). */
const appWithFaults = (faults: StorageFaults, env?: Partial<Record<keyof Env, string>>): Api =>
  testWorker({ faults, env }).api;

/*
 * Storage fails on the edge: a D1 query times out, a Durable Object is reset, a write commits
 * and its answer is lost. Every endpoint flow below is walked through every storage call it
 * makes (D1, challenge objects, the rate limiter: counted, not scripted), failing call N in
 * each mode of test/support/storage-faults.ts. Whatever fails, the client gets the envelope
 * with the expected answer or a fault code (docs/errors-and-faults.md); D1 holds the flow's
 * change whole or not at all, and not at all unless the failed call was a write whose answer
 * was lost; every verify leaves exactly one attempt event; and the same flow tried again (a
 * new ceremony) succeeds.
 */

/** What D1 holds for a flow: its change not made, or made; anything else throws. */
type State = "before" | "after";

type Flow<S> = {
  name: string;
  /** The flow's account and passkeys, made without faults. */
  setup(): Promise<S>;
  /** The flow's requests, in order, stopping at the first that does not get its expected answer. */
  run(s: S, api: Api): Promise<ApiResponse>;
  /** The answer when nothing fails. */
  expected: { status: number; code?: string };
  /** Omitted for flows that only read. */
  state?(s: S): Promise<State>;
  /** The answer a retry may get when the first try's change was made and only its answer lost. */
  alreadyDone?: { status: number; code: string };
  /**
   * The security event that says the outcome is decided (the change made, the refusal
   * chosen): once it is logged, no later fault may change the answer.
   */
  decidedBy?: { event: string; outcome: "success" | "failure" };
  /** Verify flows: the one event every verify request that reached the ceremony must leave. */
  attempt?: { event: AttemptEvent; outcome: "success" | "failure"; reason?: string };
  /**
   * The `background_fault` named when the flow's write after the answer (waitUntil) fails:
   * the answer stands, and the write may be missing.
   */
  afterAnswer?: string;
};

const randomAaguid = (): AuthenticatorOptions => ({ aaguid: crypto.getRandomValues(new Uint8Array(16)) });

/** A signed-up account whose passkey names an authenticator model (so its icon is looked up). */
const account = () => signUp(uniqueUsername("faults"), randomAaguid());

async function withSecondPasskey(user: SignedUp) {
  const authenticator = await SoftAuthenticator.create(randomAaguid());
  const api = appWithFaults(new StorageFaults());
  const options = await api("POST", "/api/v1/registration/challenge", { username: user.username }, bearer(user.token));
  const credential = await authenticator.register(options.body.data, { origin: ORIGIN });
  const verified = await api("POST", "/api/v1/registration/verify", { credential });
  if (verified.status !== 201) throw new Error(`second passkey: ${JSON.stringify(verified.body)}`);
  return { user, second: verified.body.data.passkeyId as string };
}

const one = async <T>(sql: string, ...values: unknown[]) =>
  env.DB.prepare(sql)
    .bind(...values)
    .first<T>();

async function credentialRow(id: string) {
  return one<{ name: string; sign_count: number; flag: string | null; is_active: number }>(
    "SELECT name, sign_count, flag, is_active FROM credentials WHERE id = ?",
    id,
  );
}

async function counts(userId: string) {
  const row = await one<{ users: number; credentials: number }>(
    "SELECT (SELECT count(*) FROM users WHERE id = ?1) AS users, (SELECT count(*) FROM credentials WHERE user_id = ?1) AS credentials",
    userId,
  );
  return row ?? { users: 0, credentials: 0 };
}

function either(before: boolean, after: boolean, detail: unknown): State {
  if (before === after) throw new Error(`inconsistent state: ${JSON.stringify(detail)}`);
  return before ? "before" : "after";
}

/** Options, the authenticator's answer, verify: a whole ceremony, through `api`. */
async function ceremony(
  api: Api,
  kind: "registration" | "authentication",
  body: Record<string, unknown>,
  respond: (options: ApiResponse["body"]["data"]) => Promise<unknown>,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const options = await api("POST", `/api/v1/${kind}/challenge`, body, headers);
  if (options.status !== 200) return options;
  return api("POST", `/api/v1/${kind}/verify`, { credential: await respond(options.body.data) });
}

const signUpFlow: Flow<{ username: string; authenticators: SoftAuthenticator[] }> = {
  name: "sign-up",
  decidedBy: { event: "credential_added", outcome: "success" },
  setup: async () => ({ username: uniqueUsername("faults-new"), authenticators: [] }),
  run: async (s, api) => {
    const authenticator = await SoftAuthenticator.create(randomAaguid());
    s.authenticators.push(authenticator);
    return ceremony(api, "registration", { username: s.username }, (options) =>
      authenticator.register(options, { origin: ORIGIN }),
    );
  },
  expected: { status: 201 },
  state: async (s) => {
    const user = await one<{ id: string }>("SELECT id FROM users WHERE username = ?", s.username);
    const stored = user ? await counts(user.id) : { users: 0, credentials: 0 };
    // The account exists only with its passkey: both or neither.
    return either(!user, stored.users === 1 && stored.credentials === 1, stored);
  },
  alreadyDone: { status: 409, code: "USERNAME_TAKEN" },
  attempt: { event: "registration_attempt", outcome: "success" },
};

const addPasskeyFlow: Flow<{ user: SignedUp; before: number }> = {
  name: "add a passkey",
  decidedBy: { event: "credential_added", outcome: "success" },
  setup: async () => {
    const user = await account();
    return { user, before: (await counts(user.userId)).credentials };
  },
  run: async (s, api) => {
    const authenticator = await SoftAuthenticator.create(randomAaguid());
    return ceremony(
      api,
      "registration",
      { username: s.user.username },
      (options) => authenticator.register(options, { origin: ORIGIN }),
      bearer(s.user.token),
    );
  },
  expected: { status: 201 },
  state: async (s) => {
    const now = (await counts(s.user.userId)).credentials;
    return either(now === s.before, now > s.before, { before: s.before, now });
  },
  attempt: { event: "registration_attempt", outcome: "success" },
};

function signInFlow(name: string, withUsername: boolean): Flow<{ user: SignedUp; counter: number }> {
  return {
    name,
    decidedBy: { event: "authentication_attempt", outcome: "success" },
    setup: async () => {
      const user = await account();
      return { user, counter: (await credentialRow(user.passkeyId))?.sign_count ?? -1 };
    },
    run: async (s, api) =>
      ceremony(api, "authentication", withUsername ? { username: s.user.username } : {}, (options) =>
        s.user.authenticator.assert(options, { origin: ORIGIN }),
      ),
    expected: { status: 200 },
    state: async (s) => {
      const now = (await credentialRow(s.user.passkeyId))?.sign_count ?? -1;
      return either(now === s.counter, now > s.counter, { before: s.counter, now });
    },
    attempt: { event: "authentication_attempt", outcome: "success" },
  };
}

/**
 * A passkey that keeps no counter (synced passkeys report 0): nothing to compare-and-swap, so
 * its one write, last_used_at, is made after the answer (src/middleware/deferred-work.ts).
 */
const syncedSignInFlow: Flow<{ user: SignedUp; lastUsed: number | null }> = {
  name: "sign-in with a synced passkey",
  decidedBy: { event: "authentication_attempt", outcome: "success" },
  setup: async () => {
    const user = await signUp(uniqueUsername("faults-synced"), { ...randomAaguid(), countSignatures: false });
    return { user, lastUsed: await lastUsedAt(user.passkeyId) };
  },
  run: async (s, api) =>
    ceremony(api, "authentication", { username: s.user.username }, (options) =>
      s.user.authenticator.assert(options, { origin: ORIGIN }),
    ),
  expected: { status: 200 },
  state: async (s) => {
    const now = await lastUsedAt(s.user.passkeyId);
    return either(now === s.lastUsed, now !== null && now !== s.lastUsed, { before: s.lastUsed, now });
  },
  attempt: { event: "authentication_attempt", outcome: "success" },
  afterAnswer: "credential_last_used",
};

async function lastUsedAt(id: string): Promise<number | null> {
  const row = await one<{ last_used_at: number | null; sign_count: number }>(
    "SELECT last_used_at, sign_count FROM credentials WHERE id = ?",
    id,
  );
  // The deferred path is taken only while the counter stays 0.
  if (row?.sign_count !== 0) throw new Error(`not a passkey without a counter: ${JSON.stringify(row)}`);
  return row.last_used_at;
}

/** A replayed counter: refused (401), and the passkey flagged for its owner, nothing else changed. */
const cloneFlow: Flow<{ user: SignedUp; counter: number }> = {
  name: "sign-in refused as a clone",
  decidedBy: { event: "clone_suspected", outcome: "failure" },
  setup: async () => {
    const user = await account();
    for (let i = 0; i < 2; i++) expect((await signIn(user.authenticator, user.username)).status).toBe(200);
    return { user, counter: (await credentialRow(user.passkeyId))?.sign_count ?? -1 };
  },
  run: async (s, api) =>
    ceremony(api, "authentication", { username: s.user.username }, (options) =>
      s.user.authenticator.assert(options, { origin: ORIGIN, signCount: 1 }),
    ),
  expected: { status: 401, code: "AUTHENTICATION_FAILED" },
  state: async (s) => {
    const row = await credentialRow(s.user.passkeyId);
    if (row?.sign_count !== s.counter) throw new Error(`a refused assertion moved the counter: ${row?.sign_count}`);
    return either(row.flag === null, row.flag === "clone_suspected", row);
  },
  attempt: { event: "authentication_attempt", outcome: "failure", reason: "counter_regression" },
};

const listFlow: Flow<SignedUp> = {
  name: "list passkeys",
  setup: account,
  run: (user, api) => api("GET", "/api/v1/credentials", undefined, bearer(user.token)),
  expected: { status: 200 },
};

const renameFlow: Flow<{ user: SignedUp; name: string }> = {
  name: "rename a passkey",
  decidedBy: { event: "credential_renamed", outcome: "success" },
  setup: async () => ({ user: await account(), name: `Renamed ${uniqueUsername("name")}` }),
  run: (s, api) => api("PATCH", `/api/v1/credentials/${s.user.passkeyId}`, { name: s.name }, bearer(s.user.token)),
  expected: { status: 200 },
  state: async (s) => {
    const row = await credentialRow(s.user.passkeyId);
    return either(row?.name !== s.name, row?.name === s.name, row);
  },
};

const removeFlow: Flow<{ user: SignedUp; second: string }> = {
  name: "remove a passkey",
  decidedBy: { event: "credential_removed", outcome: "success" },
  setup: async () => withSecondPasskey(await account()),
  run: (s, api) => api("DELETE", `/api/v1/credentials/${s.second}`, undefined, bearer(s.user.token)),
  expected: { status: 200 },
  state: async (s) => {
    const row = await credentialRow(s.second);
    return either(row !== null, row === null, row);
  },
  alreadyDone: { status: 404, code: "CREDENTIAL_NOT_FOUND" },
};

const describeAccountFlow: Flow<SignedUp> = {
  name: "describe the account",
  setup: account,
  run: (user, api) => api("GET", "/api/v1/me", undefined, bearer(user.token)),
  expected: { status: 200 },
};

function accountGone(userId: string) {
  return async () => {
    const stored = await counts(userId);
    return either(stored.users === 1 && stored.credentials > 0, stored.users === 0 && stored.credentials === 0, stored);
  };
}

const deleteAccountFlow: Flow<SignedUp> = {
  name: "delete the account",
  decidedBy: { event: "account_deleted", outcome: "success" },
  setup: account,
  run: (user, api) => api("DELETE", "/api/v1/me", undefined, bearer(user.token)),
  expected: { status: 200 },
  state: (user) => accountGone(user.userId)(),
  // The session's account is gone: its token no longer speaks for anyone.
  alreadyDone: { status: 401, code: "UNAUTHORIZED" },
};

const adminListFlow: Flow<SignedUp> = {
  name: "admin: list users",
  decidedBy: { event: "admin_users_listed", outcome: "success" },
  setup: account,
  run: (user, api) => api("GET", `/api/v1/admin/users?prefix=${user.username}`, undefined, admin),
  expected: { status: 200 },
};

const adminViewFlow: Flow<SignedUp> = {
  name: "admin: view a user",
  decidedBy: { event: "admin_user_viewed", outcome: "success" },
  setup: account,
  run: (user, api) => api("GET", `/api/v1/admin/users/${user.userId}`, undefined, admin),
  expected: { status: 200 },
};

const adminDisableUserFlow: Flow<SignedUp> = {
  name: "admin: disable a user",
  decidedBy: { event: "admin_user_disabled", outcome: "success" },
  setup: account,
  run: (user, api) => api("PATCH", `/api/v1/admin/users/${user.userId}`, { active: false }, admin),
  expected: { status: 200 },
  state: async (user) => {
    const row = await one<{ is_active: number }>("SELECT is_active FROM users WHERE id = ?", user.userId);
    return either(row?.is_active === 1, row?.is_active === 0, row);
  },
};

const adminDisablePasskeyFlow: Flow<SignedUp> = {
  name: "admin: disable a passkey",
  decidedBy: { event: "admin_credential_disabled", outcome: "success" },
  setup: account,
  run: (user, api) => api("PATCH", `/api/v1/admin/credentials/${user.passkeyId}`, { active: false }, admin),
  expected: { status: 200 },
  state: async (user) => {
    const row = await credentialRow(user.passkeyId);
    return either(row?.is_active === 1, row?.is_active === 0, row);
  },
};

const adminRemovePasskeyFlow: Flow<SignedUp> = {
  name: "admin: remove a passkey",
  decidedBy: { event: "admin_credential_removed", outcome: "success" },
  setup: account,
  run: (user, api) => api("DELETE", `/api/v1/admin/credentials/${user.passkeyId}`, undefined, admin),
  expected: { status: 200 },
  state: async (user) => {
    const row = await credentialRow(user.passkeyId);
    return either(row !== null, row === null, row);
  },
  alreadyDone: { status: 404, code: "CREDENTIAL_NOT_FOUND" },
};

const adminDeleteUserFlow: Flow<SignedUp> = {
  name: "admin: delete a user",
  decidedBy: { event: "admin_user_deleted", outcome: "success" },
  setup: account,
  run: (user, api) => api("DELETE", `/api/v1/admin/users/${user.userId}`, undefined, admin),
  expected: { status: 200 },
  state: (user) => accountGone(user.userId)(),
  alreadyDone: { status: 404, code: "USER_NOT_FOUND" },
};

// biome-ignore lint/suspicious/noExplicitAny: each flow has its own setup state.
const flows: Flow<any>[] = [
  signUpFlow,
  addPasskeyFlow,
  signInFlow("sign-in with a username", true),
  signInFlow("sign-in without a username", false),
  syncedSignInFlow,
  cloneFlow,
  listFlow,
  renameFlow,
  removeFlow,
  describeAccountFlow,
  deleteAccountFlow,
  adminListFlow,
  adminViewFlow,
  adminDisableUserFlow,
  adminDisablePasskeyFlow,
  adminRemovePasskeyFlow,
  adminDeleteUserFlow,
];

/** Requests a flow sent, in order, with their answers. */
type Sent = {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string> | undefined;
  response: ApiResponse;
};

function recording(api: Api, sent: Sent[]): Api {
  return async (method, path, body, headers) => {
    const response = await api(method, path, body, headers);
    sent.push({ method, path, body, headers, response });
    return response;
  };
}

const parsedLines = (lines: string[]) =>
  lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

const matches = (response: ApiResponse, answer: { status: number; code?: string }) =>
  response.status === answer.status && (answer.code === undefined || response.body.error?.code === answer.code);

function expectEnvelope(response: ApiResponse) {
  expect(typeof response.body.timestamp).toBe("string");
  if (response.status < 400) {
    expect(response.body.status).toBe("ok");
  } else {
    expect(response.body.status).toBe("error");
    expect(response.body.error).toEqual(
      expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
    );
  }
}

/** No passkey outlives its account, whatever failed. */
async function expectNoOrphans() {
  const orphans = await one<{ n: number }>(
    "SELECT count(*) AS n FROM credentials WHERE user_id NOT IN (SELECT id FROM users)",
  );
  expect(orphans?.n).toBe(0);
}

let logLines: string[];
beforeEach(() => {
  logLines = captureLogLines();
});
afterEach(() => vi.restoreAllMocks());

/** The storage calls the flow makes when nothing fails; each one gets failed in turn. */
async function callsOf<S>(flow: Flow<S>): Promise<number> {
  const s = await flow.setup();
  const faults = new StorageFaults();
  const answer = await flow.run(s, appWithFaults(faults));
  expect(answer.status, JSON.stringify(answer.body)).toBe(flow.expected.status);
  if (flow.state) expect(await flow.state(s)).toBe("after");
  return faults.calls.length;
}

/** Walks one fault; true when it was the flow's write after the answer that failed. */
async function walk<S>(flow: Flow<S>, mode: FaultMode, failAt: number): Promise<boolean> {
  const where = `${flow.name}, call ${failAt} ${mode}`;
  const s = await flow.setup();
  const faults = new StorageFaults(failAt, mode);
  const sent: Sent[] = [];
  const linesBefore = logLines.length;
  const answer = await flow.run(s, recording(appWithFaults(faults), sent));
  const lines = parsedLines(logLines.slice(linesBefore));
  const events = lines.filter((line): line is LoggedEvent => line.type === "security_event");
  const injected = faults.injected;
  expect(injected, where).toBeDefined();
  const context = `${where} (${injected?.kind}): ${answer.status} ${JSON.stringify(answer.body.error ?? {})}`;

  for (const { response } of sent) expectEnvelope(response);
  const succeeded = matches(answer, flow.expected);
  if (!succeeded) {
    // A fault answer, and the one its kind calls for: the limiter's is 503 with Retry-After.
    if (answer.status === 503) {
      expect(answer.body.error.code, context).toBe("SERVICE_UNAVAILABLE");
      expect(Number(answer.headers.get("retry-after")), context).toBeGreaterThan(0);
      expect(injected?.kind, context).toBe("limiter");
    } else {
      expect(answer.status, context).toBe(500);
      expect(answer.body.error.code, context).toBe("INTERNAL_ERROR");
      expect(injected?.kind, context).not.toBe("limiter");
    }
  }

  // Once the outcome is decided and logged (a write made, a refusal chosen), what follows
  // (icons for the answer, the refusal's flag) may fail without changing the answer.
  const decided = flow.decidedBy;
  if (decided && events.some((e) => e.event === decided.event && e.outcome === decided.outcome)) {
    expect(succeeded, context).toBe(true);
  }

  // A write made after the answer cannot change it: its failure is logged, and the answer stands.
  const lostAfterAnswer =
    flow.afterAnswer !== undefined &&
    lines.some((line) => line.type === "background_fault" && line.what === flow.afterAnswer);
  if (lostAfterAnswer) {
    expect(succeeded, context).toBe(true);
    expect(injected?.kind, context).toBe("d1-write");
  }

  const state = flow.state ? await flow.state(s) : undefined;
  await expectNoOrphans();
  if (state !== undefined) {
    // The expected answer means the change was made; a fault answer (or a failed write after
    // the answer) means it was not, unless the failed call was a write that took effect
    // before its answer was lost.
    if (succeeded && !lostAfterAnswer) expect(state, context).toBe("after");
    else if (injected?.mode !== "lost") expect(state, context).toBe("before");
  }

  if (flow.attempt) {
    // One event per verify request that reached the ceremony (a limiter fault stops it before).
    const verifies = sent.filter(({ path, response }) => path.endsWith("/verify") && response.status !== 503);
    const attempts = events.filter((e) => e.event === flow.attempt?.event);
    expect(attempts, context).toHaveLength(verifies.length);
    const attempt = attempts[0];
    if (attempt && succeeded) {
      // toEqual: a success names no reason (toMatchObject would demand the key be present).
      const { outcome, reason } = attempt;
      expect({ outcome, reason }, context).toEqual({ outcome: flow.attempt.outcome, reason: flow.attempt.reason });
    } else if (attempt) {
      expect(attempt, context).toMatchObject({ outcome: "failure", reason: "storage_fault" });
    }
  }

  const last = sent.at(-1);
  if (!succeeded && answer.status === 503 && last?.path.endsWith("/verify")) {
    // The limiter stopped the verify before it changed anything and its challenge was given
    // back: the same response, sent again once the limiter answers, gets there.
    const resent = await appWithFaults(new StorageFaults())(last.method, last.path, last.body, last.headers);
    expect(resent.status, `${context}; sent again: ${JSON.stringify(resent.body)}`).toBe(flow.expected.status);
    if (flow.state) expect(await flow.state(s), `${context}; after sending again`).toBe("after");
  } else if (!succeeded) {
    // Tried again from the start (a new ceremony), with storage working: it gets there.
    const retry = await flow.run(s, appWithFaults(new StorageFaults()));
    const done = state === "after" && flow.alreadyDone !== undefined && matches(retry, flow.alreadyDone);
    if (!done) expect(retry.status, `${context}; retry: ${JSON.stringify(retry.body)}`).toBe(flow.expected.status);
    if (flow.state) expect(await flow.state(s), `${context}; after the retry`).toBe("after");
  }
  return lostAfterAnswer;
}

describe.each(flows)("storage faults: $name", (flow) => {
  it.each(faultModes)(
    "every storage call failing %s",
    async (mode) => {
      const calls = await callsOf(flow);
      expect(calls).toBeGreaterThan(0);
      let lostAfterAnswer = false;
      for (let failAt = 1; failAt <= calls; failAt++) {
        if (await walk(flow, mode, failAt)) lostAfterAnswer = true;
      }
      // The write after the answer was among the calls walked, and its failure was seen.
      expect(lostAfterAnswer).toBe(flow.afterAnswer !== undefined);
    },
    60_000,
  );
});

describe("what a fault after the decision leaves behind", () => {
  const logged = (lines: string[], type: string) =>
    lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.type === type);

  it("a refusal whose flag cannot be stored, even on the second try, stays a 401 and the loss is logged", async () => {
    const baseline = new StorageFaults();
    const s = await cloneFlow.setup();
    expect((await cloneFlow.run(s, appWithFaults(baseline))).status).toBe(401);
    // The refused ceremony's only write is the flag; fail it and the retry after the answer.
    const flagWrite = baseline.calls.indexOf("d1-write") + 1;
    expect(flagWrite).toBeGreaterThan(0);

    const fresh = await cloneFlow.setup();
    const lines = captureLogLines();
    const faults = new StorageFaults([flagWrite, flagWrite + 1], "rejected");
    const answer = await cloneFlow.run(fresh, appWithFaults(faults));
    expect(faults.calls.slice(flagWrite - 1, flagWrite + 1)).toEqual(["d1-write", "d1-write"]);
    expect(answer.status).toBe(401);
    expect(answer.body.error).toEqual({ code: "AUTHENTICATION_FAILED", message: "Authentication failed" });
    expect(await cloneFlow.state?.(fresh)).toBe("before");
    expect(logged(lines, "background_fault")).toEqual([
      expect.objectContaining({
        level: "error",
        what: "credential_flag:clone_suspected",
        error: expect.arrayContaining([expect.objectContaining({ message: expect.stringContaining("D1_ERROR") })]),
      }),
    ]);
    expect(logged(lines, "security_event")).toContainEqual(
      expect.objectContaining({ event: "clone_suspected", userId: fresh.user.userId }),
    );
  });

  it("a rename whose icon read fails answers 200 with no icon, and logs the fault as a warning", async () => {
    const baseline = new StorageFaults();
    const s = await renameFlow.setup();
    expect((await renameFlow.run(s, appWithFaults(baseline))).status).toBe(200);
    // After the session's account read and the rename itself: the icon read.
    const iconRead = baseline.calls.lastIndexOf("d1-read") + 1;
    expect(baseline.calls.at(-1)).toBe("d1-read");

    const fresh = await renameFlow.setup();
    const lines = captureLogLines();
    const answer = await renameFlow.run(fresh, appWithFaults(new StorageFaults(iconRead, "rejected")));
    expect(answer.status).toBe(200);
    expect(answer.body.data).toMatchObject({ name: fresh.name, authenticator: { icon: null } });
    expect(await renameFlow.state?.(fresh)).toBe("after");
    expect(logged(lines, "background_fault")).toEqual([
      expect.objectContaining({ level: "warn", what: "authenticator_icons" }),
    ]);
  });
});

describe("a verify the rate limiter refused", () => {
  const VERIFY = "/api/v1/authentication/verify";

  /** A sign-in whose verify is refused 429: the client's one verify was spent on a malformed one. */
  async function refusedSignIn(faults: StorageFaults) {
    const user = await account();
    const headers = { "cf-connecting-ip": freshIPv4() };
    const api = appWithFaults(faults, { RATE_LIMIT_VERIFY_REQUESTS: "1" });
    const options = await api("POST", "/api/v1/authentication/challenge", { username: user.username }, headers);
    const credential = await user.authenticator.assert(options.body.data, { origin: ORIGIN });
    expect((await api("POST", VERIFY, {}, headers)).status).toBe(400);
    const refused = await api("POST", VERIFY, { credential }, headers);
    // The same response sent again, within a budget (the challenge is usable only if given back).
    const again = () => appWithFaults(new StorageFaults())("POST", VERIFY, { credential }, headers);
    return { refused, again };
  }

  it.each(faultModes)("stays a 429 when giving its challenge back fails (%s), and logs the loss", async (mode) => {
    const baseline = new StorageFaults();
    const { refused: baselineRefused, again: baselineAgain } = await refusedSignIn(baseline);
    expect(baselineRefused.status).toBe(429);
    // Options make no challenge call; the refused verify spends (alongside the limiter) and gives back.
    expect(baseline.calls.filter((kind) => kind === "challenge")).toHaveLength(2);
    const release = baseline.calls.lastIndexOf("challenge") + 1;
    expect((await baselineAgain()).status).toBe(200);

    const lines = captureLogLines();
    const faults = new StorageFaults(release, mode);
    const { refused, again } = await refusedSignIn(faults);
    expect(faults.injected).toEqual({ call: release, kind: "challenge", mode });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("RATE_LIMIT_EXCEEDED");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    const logged = parsedLines(lines);
    expect(logged.filter((line) => line.event === "authentication_attempt")).toEqual([]);
    expect(logged.filter((line) => line.type === "internal_error")).toEqual([]);
    expect(logged.filter((line) => line.type === "background_fault")).toEqual([
      expect.objectContaining({ level: "warn", what: "challenge_release" }),
    ]);
    // Given back only if the release took effect before its answer was lost; otherwise the
    // challenge stays spent and the response needs a new ceremony.
    const sentAgain = await again();
    if (mode === "lost") expect(sentAgain.status).toBe(200);
    else expect(sentAgain.body.error?.code).toBe("INVALID_CHALLENGE");
  });
});
