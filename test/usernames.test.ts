import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { normalizeUsername, usernameSkeleton } from "../src/ceremonies/username";
import { runScheduledJob } from "../src/jobs/scheduled";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { bindingClient } from "./conformance/binding-client";
import { api, ORIGIN, registrationOptions, signUp, uniqueUsername } from "./support/api";
import { storedRows } from "./support/management";

/** The fullwidth spelling of printable ASCII (U+FF01…U+FF5E). */
const fullwidth = (text: string) =>
  [...text].map((char) => String.fromCodePoint((char.codePointAt(0) ?? 0) + 0xfee0)).join("");

// Look-alike spellings of a name (issue 11, item 2). Each is a function of the real name, so
// every test can use a name of its own.
const refused: [string, (name: string) => string][] = [
  ["U+3164 HANGUL FILLER appended", (name) => `${name}\u3164`],
  ["U+034F COMBINING GRAPHEME JOINER appended", (name) => `${name}\u034F`],
  ["U+FE0F VARIATION SELECTOR-16 appended", (name) => `${name}\uFE0F`],
  ["U+2800 BRAILLE PATTERN BLANK appended", (name) => `${name}\u2800`],
  ["U+115F HANGUL CHOSEONG FILLER prepended", (name) => `\u115F${name}`],
  ["U+1160 HANGUL JUNGSEONG FILLER inside", (name) => `${name.slice(0, 2)}\u1160${name.slice(2)}`],
  ["U+FFA0 HALFWIDTH HANGUL FILLER appended", (name) => `${name}\uFFA0`],
  ["U+200B ZERO WIDTH SPACE inside", (name) => `${name.slice(0, 2)}\u200B${name.slice(2)}`],
  ["U+00AD SOFT HYPHEN inside", (name) => `${name.slice(0, 2)}\u00AD${name.slice(2)}`],
  ["U+2060 WORD JOINER appended", (name) => `${name}\u2060`],
];

const sameAccount: [string, (name: string) => string][] = [
  ["upper case", (name) => name.toUpperCase()],
  ["the fullwidth spelling", fullwidth],
  ["a Cyrillic а (U+0430) for a", (name) => name.replace("a", "\u0430")],
  ["a Greek ο (U+03BF) for o", (name) => name.replace("o", "\u03BF")],
  ["a dotless ı (U+0131) for i", (name) => name.replace("i", "\u0131")],
  ["the digit 1 for l", (name) => name.replace("l", "1")],
  ["rn for m", (name) => name.replace("m", "rn")],
  ["a mathematical bold a (U+1D41A)", (name) => name.replace("a", "\u{1D41A}")],
];

describe("usernames: the pure rules", () => {
  it.each([
    ["ALICE", "alice"],
    ["  Alice ", "alice"],
    ["ａｌｉｃｅ", "alice"],
    ["Straße", "strasse"],
    ["ﬁsh", "fish"],
    ["Ⅻ", "xii"],
    ["A\u030Angstrom", "\u00E5ngstrom"],
  ])("normalizes %j to %j (NFKC and case folding)", (input, expected) => {
    expect(normalizeUsername(input)).toBe(expected);
  });

  it.each(sameAccount)("%s has the skeleton of the real name", (_name, spell) => {
    const name = "malicious-lo";
    expect(usernameSkeleton(normalizeUsername(spell(name)))).toBe(usernameSkeleton(name));
  });

  it.each([
    ["alice", "alicia"],
    ["alice", "alice2"],
    ["bob", "rob"],
    ["ivan", "иван"],
  ])("keeps %j and %j apart", (a, b) => {
    expect(usernameSkeleton(normalizeUsername(a))).not.toBe(usernameSkeleton(normalizeUsername(b)));
  });
});

describe("usernames over HTTP: look-alikes are refused or meet the real account", () => {
  it.each(refused)("refuses a name with %s (400 VALIDATION_ERROR)", async (_name, spell) => {
    const name = uniqueUsername("malicious");
    const response = await registrationOptions({ username: spell(name) });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
    const details = response.body.error.details as { path: string }[];
    expect(details.length).toBeGreaterThan(0);
    expect(details.map((issue) => issue.path)).toEqual(details.map(() => "username"));
  });

  it.each(sameAccount)("the name with %s is taken by the real account (409)", async (_name, spell) => {
    const owner = await signUp(uniqueUsername("malicious-lo"));
    const response = await registrationOptions({ username: spell(owner.username) });
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe("USERNAME_TAKEN");
  });

  it("stores the skeleton beside the name, and a race of two look-alikes ends with one account", async () => {
    const name = uniqueUsername("malicious-lo");
    const first = await SoftAuthenticator.create();
    const second = await SoftAuthenticator.create();
    // Both options calls come before either account exists: only the database can decide.
    const a = await registrationOptions({ username: name });
    const b = await registrationOptions({ username: name.replace("a", "\u0430") });
    expect([a.status, b.status]).toEqual([200, 200]);
    const verifyA = await api("POST", "/api/v1/registration/verify", {
      credential: await first.register(a.body.data, { origin: ORIGIN }),
    });
    const verifyB = await api("POST", "/api/v1/registration/verify", {
      credential: await second.register(b.body.data, { origin: ORIGIN }),
    });
    expect(verifyA.status).toBe(201);
    expect(verifyB.status).toBe(409);
    expect(verifyB.body.error.code).toBe("USERNAME_TAKEN");
    const rows = await env.DB.prepare("SELECT username, username_skeleton FROM users WHERE username_skeleton = ?")
      .bind(usernameSkeleton(name))
      .all();
    expect(rows.results).toEqual([{ username: name, username_skeleton: usernameSkeleton(name) }]);
  });

  it("a look-alike is never the same account: the conformance binding cannot add a passkey to a native look-alike", async () => {
    // A native name that looks like a binding account's ("fidо-conformance:" with a Cyrillic о).
    const tail = uniqueUsername("tool");
    const native = await signUp(`fid\u043E-conformance:${tail}`);
    const binding = bindingClient({ CONFORMANCE_API: "true" });
    const created = await binding.creationOptions({ username: tail, displayName: "Tool" });
    expect(created.status).toBe(409);
    expect(created.body.status).toBe("failed");
    expect(await storedRows(native.userId)).toEqual({ users: 1, credentials: 1 });
  });

  it("a signed-in owner still adds a passkey under their own name", async () => {
    const owner = await signUp(uniqueUsername("malicious-lo"));
    const response = await registrationOptions(
      { username: owner.username.toUpperCase() },
      { authorization: `Bearer ${owner.token}` },
    );
    expect(response.status).toBe(200);
  });
});

describe("accounts from before skeletons (backfill by the cron trigger)", () => {
  // Legacy rows in the order they are inserted (the backfill goes oldest first).
  let clock = Date.now() - 3_600_000;
  const insertLegacy = async (username: string) => {
    const id = crypto.randomUUID();
    await env.DB.prepare("INSERT INTO users (id, username, display_name, created_at) VALUES (?, ?, ?, ?)")
      .bind(id, username, username, clock++)
      .run();
    return id;
  };
  const rowOf = (id: string) =>
    env.DB.prepare("SELECT username, username_skeleton FROM users WHERE id = ?")
      .bind(id)
      .first<{ username: string; username_skeleton: string | null }>();

  it("fills in the skeleton, re-normalizes the name, and marks the later of two look-alikes", async () => {
    const name = uniqueUsername("legacy-lo");
    const real = await insertLegacy(name);
    const twin = await insertLegacy(name.replace("o", "\u03BF"));
    const wide = await insertLegacy(fullwidth(uniqueUsername("legacy-wide")));
    await runScheduledJob("usernameSkeletonBackfill", env, createExecutionContext());

    expect(await rowOf(real)).toEqual({ username: name, username_skeleton: usernameSkeleton(name) });
    // The twin keeps its name and can still sign in; its skeleton marks it as a known look-alike.
    expect((await rowOf(twin))?.username_skeleton).toBe(`!look-alike:${twin}`);
    const widened = await rowOf(wide);
    expect(widened?.username).toMatch(/^legacy-wide-/);
    expect(widened?.username_skeleton).toBe(usernameSkeleton(widened?.username ?? ""));

    // From now on the real name's look-alikes are taken.
    const response = await registrationOptions({ username: name.toUpperCase().replace("O", "\u041E") });
    expect(response.status).toBe(409);
  });

  it("when an older name re-normalizes to a newer account's name, the newer keeps it and the older is the look-alike", async () => {
    const name = uniqueUsername("legacy-plain");
    const older = await insertLegacy(fullwidth(name));
    const newer = await insertLegacy(name);
    await runScheduledJob("usernameSkeletonBackfill", env, createExecutionContext());
    expect(await rowOf(older)).toEqual({ username: fullwidth(name), username_skeleton: `!look-alike:${older}` });
    expect(await rowOf(newer)).toEqual({ username: name, username_skeleton: usernameSkeleton(name) });
  });
});
