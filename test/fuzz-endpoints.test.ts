import { env, exports } from "cloudflare:workers";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../src/app";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import {
  api,
  authenticationOptions,
  bearer,
  ORIGIN,
  registrationOptions,
  type SignedUp,
  signUp,
  uniqueUsername,
} from "./support/api";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

// ---------------------------------------------------------------------------------------
// What gets sent: a body (JSON or raw text) and a content type, built from a valid body by
// a list of mutations.
// ---------------------------------------------------------------------------------------

type Outgoing = { body: Json | { raw: string } | undefined; contentType: string | null };

type Mutation =
  | { kind: "replace"; pick: number; value: Json }
  | { kind: "delete"; pick: number }
  | { kind: "addKey"; pick: number; key: string; value: Json }
  | { kind: "transform"; pick: number; transform: StringTransform; seed: number }
  | { kind: "raw"; text: string }
  | { kind: "truncateJson"; at: number }
  | { kind: "contentType"; value: string | null };

const stringTransforms = [
  "padded",
  "standardBase64",
  "truncated",
  "appendChar",
  "flipChar",
  "whitespace",
  "uppercase",
  "otherValidBase64url",
  "huge",
  "empty",
  "loneSurrogate",
] as const;
type StringTransform = (typeof stringTransforms)[number];

const oddStrings = [
  "\uD800",
  "a\uDFFFb",
  "\u0000",
  "\u202Eevil",
  "\u200B",
  "İstanbul",
  "ß",
  "👩‍👩‍👧",
  "null",
  "true",
  "0",
  "<script>alert(1)</script>",
  "' OR 1=1 --",
  "../../etc/passwd",
  "%00",
  "__proto__",
  "constructor",
];

const weirdValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(false, true, 0, -1, 1.5, 2 ** 53, -(2 ** 31), [], {}, null, "", " ", "=", "===="),
  fc.constantFrom(...oddStrings),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(2_000, 5_000, 40_000).map((n) => "A".repeat(n)),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc.array(fc.constantFrom<Json>("usb", "internal", "x", 1, null), { maxLength: 12 }),
);

const rawTexts = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.constantFrom(
    "",
    "{",
    "}",
    "[]",
    "null",
    "0",
    '"x"',
    "true",
    '{"a":}',
    "{'single':'quotes'}",
    "[".repeat(5000),
    '{"a":'.repeat(2000),
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    "\uFEFF{}",
    "{}garbage",
  ),
);

const contentTypes = fc.constantFrom<string | null>(
  null,
  "",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/jsonx",
  "application/xml",
  "APPLICATION/JSON",
  "application/json; charset=utf-16",
  "application/json; charset=utf-8",
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("replace"), pick: fc.nat(), value: weirdValue }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete"), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("addKey"),
      pick: fc.nat(),
      key: fc.oneof(fc.constantFrom("__proto__", "constructor", "extra", "id", "rawId", ""), fc.string()),
      value: weirdValue,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("transform"),
      pick: fc.nat(),
      transform: fc.constantFrom(...stringTransforms),
      seed: fc.nat(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("raw"), text: rawTexts }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncateJson"), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("contentType"), value: contentTypes }) },
) as fc.Arbitrary<Mutation>;

function pathsOf(value: Json, prefix: Path = []): Path[] {
  const own = prefix.length > 0 ? [prefix] : [];
  if (Array.isArray(value)) return [...own, ...value.flatMap((item, i) => pathsOf(item, [...prefix, i]))];
  if (value !== null && typeof value === "object") {
    return [...own, ...Object.entries(value).flatMap(([key, item]) => pathsOf(item, [...prefix, key]))];
  }
  return own;
}

function containerAt(root: Json, path: Path): Json {
  let node = root;
  for (const step of path) node = (node as Record<string | number, Json>)[step] as Json;
  return node;
}

function setAt(root: Json, path: Path, value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const copy = structuredClone(root);
  const parent = containerAt(copy, path.slice(0, -1)) as Record<string | number, Json>;
  const last = path.at(-1) as string | number;
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else if (last === "__proto__") {
    Object.defineProperty(parent, last, { value, enumerable: true, configurable: true, writable: true });
  } else {
    parent[last] = value;
  }
  return copy;
}

function transformString(value: string, transform: StringTransform, seed: number): string {
  const position = value.length === 0 ? 0 : seed % value.length;
  switch (transform) {
    case "padded":
      return `${value}${"=".repeat(1 + (seed % 2))}`;
    case "standardBase64":
      return `${value.replaceAll("-", "+").replaceAll("_", "/")}${"=".repeat((4 - (value.length % 4)) % 4)}`;
    case "truncated":
      return value.slice(0, position);
    case "appendChar":
      return `${value}${"AQg_-"[seed % 5]}`;
    case "flipChar": {
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.";
      return `${value.slice(0, position)}${alphabet[seed % alphabet.length]}${value.slice(position + 1)}`;
    }
    case "whitespace":
      return `${value.slice(0, position)}${[" ", "\n", "\t"][seed % 3]}${value.slice(position)}`;
    case "uppercase":
      return value.toUpperCase();
    case "otherValidBase64url":
      return isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(seed % 300)));
    case "huge":
      return value.repeat(Math.ceil(70_000 / Math.max(1, value.length))).slice(0, [5_000, 40_000, 70_000][seed % 3]);
    case "empty":
      return "";
    case "loneSurrogate":
      return `${value.slice(0, position)}\uD83D${value.slice(position)}`;
  }
}

function apply(valid: Json, mutations: Mutation[]): Outgoing {
  let body: Json = valid;
  let raw: string | undefined;
  let contentType: string | null = "application/json";
  for (const m of mutations) {
    const paths = pathsOf(body);
    const path =
      (m.kind === "replace" || m.kind === "delete" || m.kind === "addKey" || m.kind === "transform") && paths.length > 0
        ? paths[m.pick % paths.length]
        : undefined;
    switch (m.kind) {
      case "replace":
        body = setAt(body, path ?? [], m.value);
        break;
      case "delete":
        body = path ? setAt(body, path, undefined) : body;
        break;
      case "addKey": {
        // Into the object at the picked path, or the nearest object above it.
        let target = path ?? [];
        while (target.length > 0) {
          const node = containerAt(body, target);
          if (node !== null && typeof node === "object" && !Array.isArray(node)) break;
          target = target.slice(0, -1);
        }
        const node = containerAt(body, target);
        if (node !== null && typeof node === "object" && !Array.isArray(node)) {
          body = setAt(body, [...target, m.key], m.value);
        }
        break;
      }
      case "transform": {
        const current = path ? containerAt(body, path) : body;
        if (typeof current === "string") body = setAt(body, path ?? [], transformString(current, m.transform, m.seed));
        break;
      }
      case "raw":
        raw = m.text;
        break;
      case "truncateJson": {
        const text = JSON.stringify(body);
        raw = text.slice(0, m.at % Math.max(1, text.length));
        break;
      }
      case "contentType":
        contentType = m.value;
        break;
    }
  }
  return { body: raw === undefined ? body : { raw }, contentType };
}

// ---------------------------------------------------------------------------------------
// Sending, and what every answer must satisfy.
// ---------------------------------------------------------------------------------------

/** Each request from its own client address, so per-IP rate limits do not turn the whole run into 429s. */
const clientAddress = () => `198.51.100.${Math.floor(Math.random() * 254) + 1}`;

async function send(method: string, path: string, outgoing: Outgoing, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { origin: ORIGIN, "cf-connecting-ip": clientAddress(), ...headers } };
  if (outgoing.contentType !== null) (init.headers as Record<string, string>)["content-type"] = outgoing.contentType;
  if (outgoing.body !== undefined) {
    init.body =
      outgoing.body !== null && typeof outgoing.body === "object" && "raw" in outgoing.body
        ? String(outgoing.body.raw)
        : JSON.stringify(outgoing.body);
  }
  const response = await exports.default.fetch(new Request(`http://localhost:8787${path}`, init));
  return { status: response.status, contentType: response.headers.get("content-type"), text: await response.text() };
}

/** Accounts and passkeys, every column: what a refused request must leave exactly as it was. */
async function dumpAccounts(): Promise<string> {
  const [users, credentials] = await env.DB.batch([
    env.DB.prepare("SELECT * FROM users ORDER BY id"),
    env.DB.prepare("SELECT * FROM credentials ORDER BY id"),
  ]);
  return JSON.stringify([users?.results, credentials?.results]);
}

type Answer = Awaited<ReturnType<typeof send>>;

function expectWellFormedAnswer(answer: Answer, envelope: boolean) {
  expect(answer.status, answer.text.slice(0, 300)).toBeLessThan(500);
  expect(answer.contentType).toMatch(/^application\/json/);
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  if (!envelope) return;
  if (answer.status >= 400) {
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(body).toEqual({
      status: "error",
      error: expect.objectContaining({ code: expect.stringMatching(/^[A-Z_]+$/), message: expect.any(String) }),
      timestamp: expect.any(String),
    });
  } else {
    expect(body).toMatchObject({ status: "ok", timestamp: expect.any(String) });
  }
}

async function fuzz(
  method: string,
  path: string,
  validBody: () => Promise<Json>,
  { numRuns, headers = async () => ({}) }: { numRuns: number; headers?: () => Promise<Record<string, string>> },
) {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const outgoing = apply(await validBody(), mutations);
      const requestHeaders = await headers();
      const before = await dumpAccounts();
      const answer = await send(method, path, outgoing, requestHeaders);
      expectWellFormedAnswer(answer, path.startsWith("/api/"));
      if (answer.status >= 400) expect(await dumpAccounts()).toBe(before);
    }),
    { numRuns, endOnFailure: true },
  );
}

// ---------------------------------------------------------------------------------------
// Valid bodies, made fresh for every run by the software authenticator.
// ---------------------------------------------------------------------------------------

let member: SignedUp;
beforeAll(async () => {
  member = await signUp(uniqueUsername("fuzz"), { backupEligible: true, backupState: true });
});

async function registrationResponse(): Promise<Json> {
  const authenticator = await SoftAuthenticator.create();
  const options = await registrationOptions({ username: uniqueUsername("fuzzed"), displayName: "Fuzzed User" });
  return { credential: (await authenticator.register(options.body.data, { origin: ORIGIN })) as unknown as Json };
}

async function authenticationResponse(): Promise<Json> {
  const options = await authenticationOptions({ username: member.username });
  return { credential: (await member.authenticator.assert(options.body.data, { origin: ORIGIN })) as unknown as Json };
}

const RUNS = 150;
const TIMEOUT = 120_000;

describe("fuzzing every POST endpoint: always a 4xx JSON envelope, nothing written when refused", () => {
  it(
    "POST /api/v1/registration/challenge",
    () =>
      fuzz(
        "POST",
        "/api/v1/registration/challenge",
        async () => ({
          username: uniqueUsername("fuzzed"),
          displayName: "Fuzzed User",
          userVerification: "preferred",
          attestation: "none",
          authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
          extensions: { credProps: true },
        }),
        { numRuns: RUNS },
      ),
    TIMEOUT,
  );

  it(
    "POST /api/v1/registration/challenge with a session token (adding a passkey)",
    () =>
      fuzz("POST", "/api/v1/registration/challenge", async () => ({ username: member.username }), {
        numRuns: 50,
        headers: async () => bearer(member.token),
      }),
    TIMEOUT,
  );

  it(
    "POST /api/v1/registration/verify",
    () => fuzz("POST", "/api/v1/registration/verify", registrationResponse, { numRuns: RUNS }),
    TIMEOUT,
  );

  it(
    "POST /api/v1/authentication/challenge",
    () =>
      fuzz(
        "POST",
        "/api/v1/authentication/challenge",
        async () => ({ username: member.username, userVerification: "preferred" }),
        { numRuns: RUNS },
      ),
    TIMEOUT,
  );

  it(
    "POST /api/v1/authentication/verify",
    () => fuzz("POST", "/api/v1/authentication/verify", authenticationResponse, { numRuns: RUNS }),
    TIMEOUT,
  );

  // Routes added later get random bodies at least (path parameters filled in at random),
  // with and without a valid session token.
  const covered = new Set([
    "POST /api/v1/registration/challenge",
    "POST /api/v1/registration/verify",
    "POST /api/v1/authentication/challenge",
    "POST /api/v1/authentication/verify",
  ]);
  const others = [
    ...new Set(
      app.routes
        .filter((route) => ["POST", "PUT", "PATCH"].includes(route.method) && !route.path.includes("*"))
        .map((route) => `${route.method} ${route.path}`),
    ),
  ].filter((route) => !covered.has(route));

  it.skipIf(others.length === 0).each(others)(
    "%s",
    async (route) => {
      const [method = "POST", template = "/"] = route.split(" ");
      const path = template.replace(/:[A-Za-z]+/g, () => encodeURIComponent(uniqueUsername("p")));
      await fuzz(method, path, async () => ({ name: "x", username: member.username }), {
        numRuns: 50,
        headers: async () => (Math.random() < 0.5 ? bearer(member.token) : {}),
      });
    },
    TIMEOUT,
  );
});

describe("the fuzzer's starting points", () => {
  it("are valid bodies the server accepts as they are", async () => {
    expect((await api("POST", "/api/v1/registration/verify", await registrationResponse())).status).toBe(201);
    expect((await api("POST", "/api/v1/authentication/verify", await authenticationResponse())).status).toBe(200);
  });
});

describe("strict input", () => {
  const validationPaths = (response: { body: { error?: { details?: unknown } } }) =>
    ((response.body.error?.details ?? []) as { path: string }[]).map((issue) => issue.path);

  async function registrationCredential() {
    const body = (await registrationResponse()) as {
      credential: Record<string, Json> & { response: Record<string, Json> };
    };
    return body.credential;
  }
  async function assertionCredential() {
    const body = (await authenticationResponse()) as {
      credential: Record<string, Json> & { response: Record<string, Json> };
    };
    return body.credential;
  }
  const accounts = async () => (await env.DB.prepare("SELECT count(*) AS n FROM users").first<{ n: number }>())?.n;

  it.each([
    ["a lone high surrogate", "ab\uD800cd"],
    ["a lone low surrogate", "\uDFFFabc"],
    ["a reversed pair", "a\uDC00\uD800b"],
  ])("refuses a username or display name with %s (not well-formed Unicode)", async (_name, bad) => {
    for (const [path, body] of [
      ["/api/v1/registration/challenge", { username: bad }],
      ["/api/v1/registration/challenge", { username: uniqueUsername(), displayName: bad }],
      ["/api/v1/authentication/challenge", { username: bad }],
    ] as const) {
      const response = await api("POST", path, body);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("VALIDATION_ERROR");
    }
  });

  it("refuses control and format characters in a display name", async () => {
    for (const displayName of ["Alice\u0000", "Ali\u202Ece", "Al\nice"]) {
      const response = await registrationOptions({ username: uniqueUsername(), displayName });
      expect(response.status).toBe(400);
      expect(validationPaths(response)).toEqual(["displayName"]);
    }
  });

  it("caps username and display name at 64 characters, counted after normalisation", async () => {
    const ok = await registrationOptions({ username: `u${"x".repeat(63)}`, displayName: "d".repeat(64) });
    expect(ok.status).toBe(200);
    const longName = await registrationOptions({ username: "x".repeat(65) });
    expect(validationPaths(longName)).toEqual(["username"]);
    const longDisplay = await registrationOptions({ username: uniqueUsername(), displayName: "d".repeat(65) });
    expect(validationPaths(longDisplay)).toEqual(["displayName"]);
    // "İ" is one character typed, two once case-folded.
    const growsWhenFolded = await authenticationOptions({ username: "İ".repeat(40) });
    expect(validationPaths(growsWhenFolded)).toEqual(["username"]);
  });

  it.each([
    ["credential.id and rawId", ["id", "rawId"], 1364],
    ["credential.response.clientDataJSON", ["response", "clientDataJSON"], 4096],
    ["credential.response.attestationObject", ["response", "attestationObject"], 32_768],
  ])("caps %s", async (_name, path, cap) => {
    const credential = await registrationCredential();
    const long = "A".repeat(cap + 4);
    const body =
      path[0] === "response"
        ? { credential: { ...credential, response: { ...credential.response, [path[1] as string]: long } } }
        : { credential: { ...credential, id: long, rawId: long } };
    const response = await api("POST", "/api/v1/registration/verify", body);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
    const expected = path[0] === "response" ? [`credential.${path.join(".")}`] : ["credential.id", "credential.rawId"];
    expect(validationPaths(response)).toEqual(expect.arrayContaining(expected));
  });

  it.each([
    ["a length no byte string has", (id: string) => `${id}A`.slice(0, 4 * Math.floor(id.length / 4) + 1)],
    ["stray bits after the last byte", (id: string) => `${id.slice(0, -1)}${id.endsWith("B") ? "C" : "B"}`],
  ])("refuses a binary field spelled with %s (non-canonical base64url)", async (_name, respell) => {
    const credential = await assertionCredential();
    // 32-byte ids end in a character that carries 2 unused bits.
    const id = respell(String(credential.id));
    const response = await api("POST", "/api/v1/authentication/verify", {
      credential: { ...credential, id, rawId: id },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("VALIDATION_ERROR");
    expect(validationPaths(response)).toEqual(expect.arrayContaining(["credential.id", "credential.rawId"]));
  });

  it("refuses rawId different from id in the schema, before any ceremony work", async () => {
    const credential = await assertionCredential();
    const other = isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(32)));
    const response = await api("POST", "/api/v1/authentication/verify", {
      credential: { ...credential, rawId: other },
    });
    expect(response.status).toBe(400);
    expect(validationPaths(response)).toEqual(["credential.rawId"]);
    // The challenge was not spent: the untouched assertion still signs in.
    expect((await api("POST", "/api/v1/authentication/verify", { credential })).status).toBe(200);
  });

  it("refuses a registration whose reported id is not the attested one, creating nothing", async () => {
    const credential = await registrationCredential();
    const other = isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(32)));
    const before = await accounts();
    const response = await api("POST", "/api/v1/registration/verify", {
      credential: { ...credential, id: other, rawId: other },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("REGISTRATION_FAILED");
    expect(await accounts()).toBe(before);
  });
});
