import { decode, encode, Tagged } from "cborg";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cbor, concat, sign } from "./authenticator/cose";
import { aaguidBytes, bindingClient, createTestCA, metadataStatement, type TestCA } from "./conformance/binding-client";
import {
  androidKeyStatement,
  appleStatement,
  type CredentialKey,
  craftedRegistration,
  credentialKey,
  packedStatement,
  type SignedParts,
  safetyNetSigner,
  safetyNetStatement,
  u2fStatement,
} from "./conformance/crafted-attestation";
import { issueAIK, tpmStatement } from "./conformance/tpm-attestation";
import { api, registrationOptions, uniqueUsername } from "./support/api";
import { captureLogLines } from "./support/log-lines";
import { newKey } from "./support/test-worker";

// Fuzzing below JSON (Issue 17): attestation objects of the seven formats, built valid (real
// signatures, certificates from a CA of the test) and then changed at the CBOR level — every
// statement member replaced by a value of every CBOR major type, byte strings cut short or
// overlong, members added and dropped, a statement or a top level that is not a map, trailing
// bytes — and authenticator data with other flags, lengths and extension maps, re-signed so
// the change reaches the parsers rather than only the signature check. Through the native API
// (ATTESTATION_TRUST = none) and the binding (mds, with metadata for each format's model).
//
// Every answer: never a 5xx; a refusal is a 400 with exactly one failure event
// (registration_attempt); what the specification allows (some flag and extension changes) is
// accepted with exactly one success event. Seeded: a failure names the seed and the run, and the
// mutation it made.

const SEED = 0x17cb0a;
const RANDOM_RUNS = 400;

// biome-ignore lint/suspicious/noExplicitAny: creation options and statements are loose CBOR/JSON here.
type Loose = any;
type Statement = Record<string, unknown>;

const ADMIN_API_KEY = newKey();
const binding = bindingClient({ ATTESTATION_TRUST: "mds", ADMIN_API_KEY });

type Surface = {
  name: "native" | "binding";
  options(): Promise<Loose>;
  submit(credential: Record<string, unknown>): Promise<{ status: number; headers: Headers; body: Loose }>;
};

const surfaces: Surface[] = [
  {
    name: "native",
    options: async () => {
      const answer = await registrationOptions({ username: uniqueUsername("cbor"), displayName: "CBOR Fuzz" });
      if (answer.status !== 200) throw new Error(`options: ${JSON.stringify(answer.body)}`);
      return answer.body.data;
    },
    submit: async (crafted) => {
      const { getClientExtensionResults: _, ...credential } = crafted;
      return api("POST", "/api/v1/registration/verify", { credential: { ...credential, clientExtensionResults: {} } });
    },
  },
  {
    name: "binding",
    options: async () => {
      const username = uniqueUsername("cbor");
      const answer = await binding.creationOptions({ username, displayName: "CBOR Fuzz", attestation: "direct" });
      if (answer.status !== 200) throw new Error(`options: ${JSON.stringify(answer.body)}`);
      return answer.body;
    },
    submit: (crafted) => binding.post("/attestation/result", crafted),
  },
];

// ---------------------------------------------------------------------------------------------
// The seven formats (packed twice: self and full), each able to make a valid statement.
// ---------------------------------------------------------------------------------------------

type Format = {
  name: string;
  fmt: string;
  aaguid: Uint8Array;
  credential: CredentialKey;
  attStmt: (parts: SignedParts) => Promise<Statement>;
  /** Whether the unchanged attestation registers, per surface (the vendor roots decide under none). */
  accepted: Record<Surface["name"], boolean>;
};

let formats: Format[] = [];
let ca: TestCA;

async function setUpFormats(): Promise<Format[]> {
  ca = await createTestCA("CBOR Fuzz Root");
  const [es256, rs256, batch, signer, aik] = await Promise.all([
    credentialKey("ES256"),
    credentialKey("RS256"),
    ca.issueBatch(),
    safetyNetSigner(ca),
    issueAIK(ca, "RS256"),
  ]);
  const aaguids = Object.fromEntries(
    ["packed-self", "packed-full", "tpm", "android-key", "apple", "android-safetynet"].map((name) => [
      name,
      crypto.randomUUID(),
    ]),
  );
  const statement = (name: string, attestationTypes: string[], authenticationAlgorithms?: string[]) =>
    metadataStatement(aaguids[name] as string, { roots: [ca.root], attestationTypes, authenticationAlgorithms });
  const loaded = await binding
    .metadataAdmin(ADMIN_API_KEY)
    .loadStatements([
      statement("packed-self", ["basic_surrogate"]),
      statement("packed-full", ["basic_full"]),
      statement("tpm", ["attca"], ["rsassa_pkcsv15_sha256_raw"]),
      statement("android-key", ["basic_full"]),
      statement("apple", ["anonca"]),
      statement("android-safetynet", ["basic_full"]),
    ]);
  if (loaded.status !== 201) throw new Error(`metadata: ${JSON.stringify(loaded.body)}`);
  const aaguid = (name: string) => aaguidBytes(aaguids[name] as string);
  const everywhere = { native: true, binding: true };
  // Under none the vendor formats need Google's or Apple's roots; under mds U2F needs key-id metadata.
  const vendorRootsOnly = { native: false, binding: true };
  return [
    {
      name: "none",
      fmt: "none",
      aaguid: new Uint8Array(16),
      credential: es256,
      attStmt: async () => ({}),
      accepted: everywhere,
    },
    {
      name: "packed-self",
      fmt: "packed",
      aaguid: aaguid("packed-self"),
      credential: es256,
      attStmt: async ({ authData, clientDataHash, credential }) => ({
        alg: -7,
        sig: await sign("ES256", credential.keys.privateKey, concat(authData, clientDataHash)),
      }),
      accepted: everywhere,
    },
    {
      name: "packed-full",
      fmt: "packed",
      aaguid: aaguid("packed-full"),
      credential: es256,
      attStmt: packedStatement(batch.x5c, batch),
      accepted: everywhere,
    },
    {
      name: "fido-u2f",
      fmt: "fido-u2f",
      aaguid: new Uint8Array(16),
      credential: es256,
      attStmt: u2fStatement(batch),
      accepted: { native: true, binding: false },
    },
    {
      name: "tpm",
      fmt: "tpm",
      aaguid: aaguid("tpm"),
      credential: rs256,
      attStmt: tpmStatement(ca, { issuedAIK: aik }),
      accepted: everywhere,
    },
    {
      name: "android-key",
      fmt: "android-key",
      aaguid: aaguid("android-key"),
      credential: es256,
      attStmt: androidKeyStatement(ca),
      accepted: vendorRootsOnly,
    },
    {
      name: "apple",
      fmt: "apple",
      aaguid: aaguid("apple"),
      credential: es256,
      attStmt: appleStatement(ca),
      accepted: vendorRootsOnly,
    },
    {
      name: "android-safetynet",
      fmt: "android-safetynet",
      aaguid: aaguid("android-safetynet"),
      credential: es256,
      attStmt: safetyNetStatement(ca, { batch: signer }),
      accepted: vendorRootsOnly,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Mutations, and whether the specification allows what they make.
// ---------------------------------------------------------------------------------------------

/** One value of each CBOR major type (7 twice: a simple value and a float). */
const MAJOR_TYPE_VALUES: [string, unknown][] = [
  ["unsigned integer", 7],
  ["negative integer", -1],
  ["byte string", new Uint8Array([1, 2, 3])],
  ["text string", "x"],
  ["array", [new Uint8Array([1])]],
  ["map", new Map([["a", 1]])],
  ["tag", new Tagged(24, new Uint8Array([0xa0]))],
  ["simple value", true],
  ["null", null],
  ["float", 1.5],
];

type Mutation =
  | { kind: "replace"; member: string; value: unknown; label: string }
  | { kind: "drop"; member: string }
  | { kind: "extra"; member: string; value: unknown }
  | { kind: "statement"; value: unknown; label: string }
  | { kind: "bytes"; member: string; change: "truncate" | "extend" | "empty"; amount: number; fill: number }
  | { kind: "top"; change: TopChange }
  | { kind: "flags"; flags: number }
  | { kind: "extensions"; ed: boolean; payload: ExtensionPayload }
  | { kind: "authData"; change: "truncate" | "append" | "idLength" | "rpIdHash"; amount: number; fill: number }
  | { kind: "credentialKey"; value: unknown; label: string };

type TopChange =
  | { type: "trailing"; bytes: number[] }
  | { type: "truncate"; amount: number }
  | { type: "replace"; value: unknown; label: string }
  | { type: "array" }
  | { type: "member"; member: "fmt" | "authData"; value: unknown; label: string }
  | { type: "fmt"; fmt: string }
  | { type: "extra" }
  | { type: "drop"; member: "fmt" | "attStmt" | "authData" }
  | { type: "duplicate" }
  | { type: "indefinite" };

const EXTENSION_PAYLOADS = {
  "a map": { bytes: cbor(new Map([["credProtect", 1]])), wellFormed: true },
  "an empty map": { bytes: cbor(new Map()), wellFormed: true },
  "a nested map": { bytes: cbor(new Map([["a", new Map([["b", 1]])]])), wellFormed: true },
  "a map with an integer key": { bytes: cbor(new Map([[1, 2]])), wellFormed: false },
  "an array": { bytes: cbor([]), wellFormed: false },
  "an array of pairs": { bytes: cbor([["credProtect", 1]]), wellFormed: false },
  "an integer": { bytes: cbor(7), wellFormed: false },
  "a text string": { bytes: cbor("ab"), wellFormed: false },
  "a truncated map": { bytes: new Uint8Array([0xa1, 0x61, 0x61]), wellFormed: false },
  "two maps": { bytes: concat(cbor(new Map([["a", 1]])), cbor(new Map([["b", 1]]))), wellFormed: false },
  "an indefinite-length map": { bytes: new Uint8Array([0xbf, 0x61, 0x61, 0x01, 0xff]), wellFormed: false },
  "a map with a float": { bytes: cbor(new Map([["a", 1.5]])), wellFormed: false },
} as const;
type ExtensionPayload = keyof typeof EXTENSION_PAYLOADS;

const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 };
const DEFAULT_FLAGS = FLAG.UP | FLAG.UV | FLAG.AT;

/**
 * Whether WebAuthn §7.1 allows this (re-signed) authenticator data at a registration where
 * user verification is preferred: user present, attested credential data, backup state only
 * with backup eligibility, extensions (a map with text keys) exactly when ED is set.
 */
function authDataAllowed(mutation: Mutation): boolean {
  if (mutation.kind === "flags") {
    const f = mutation.flags;
    return (f & FLAG.UP) !== 0 && (f & FLAG.AT) !== 0 && (f & FLAG.ED) === 0 && !(f & FLAG.BS && !(f & FLAG.BE));
  }
  if (mutation.kind === "extensions") return mutation.ed && EXTENSION_PAYLOADS[mutation.payload].wellFormed;
  return false;
}

/**
 * A deterministic list: each member of the format's statement by each major type, dropped and
 * cut or extended, other members added, the statement replaced by each non-map type, and the
 * names of the other formats. (Top-level, credential key and extension changes do not depend
 * on the format: `sharedMutations` deals them out over the formats.)
 */
function statementMutations(format: Format, valid: Statement): Mutation[] {
  const list: Mutation[] = [];
  for (const member of Object.keys(valid)) {
    for (const [label, value] of MAJOR_TYPE_VALUES) {
      // A SafetyNet `ver` is any version string: another string is still valid.
      if (format.fmt === "android-safetynet" && member === "ver" && typeof value === "string") continue;
      list.push({ kind: "replace", member, value, label });
    }
    list.push({ kind: "drop", member });
  }
  for (const [member, value] of Object.entries(valid)) {
    if (value instanceof Uint8Array || Array.isArray(value)) {
      list.push(
        { kind: "bytes", member, change: "truncate", amount: 1, fill: 0 },
        { kind: "bytes", member, change: "extend", amount: 1, fill: 0 },
        { kind: "bytes", member, change: "empty", amount: 0, fill: 0 },
      );
    }
  }
  list.push({ kind: "extra", member: "extra", value: 1 });
  // A member of another format (apple may carry `alg`, so not that one).
  const foreign = ["ver", "response", "x5c", "sig", "certInfo", "pubArea", "alg"].find((name) => !(name in valid));
  if (foreign) list.push({ kind: "extra", member: foreign, value: new Uint8Array([0x30, 0x00]) });
  for (const [label, value] of MAJOR_TYPE_VALUES) {
    if (!(value instanceof Map)) list.push({ kind: "statement", value, label });
  }
  list.push(
    ...["none", "packed", "tpm", "android-key", "android-safetynet", "fido-u2f", "apple", "packed2", "", "NONE"]
      .filter((fmt) => fmt !== format.fmt)
      .map((fmt): Mutation => ({ kind: "top", change: { type: "fmt", fmt } })),
  );
  return list;
}

/** Changes of the attestation object's top level and of the authenticator data. */
function sharedMutations(): Mutation[] {
  const top: TopChange[] = [
    { type: "trailing", bytes: [0x00] },
    { type: "trailing", bytes: [0xa0] },
    { type: "truncate", amount: 1 },
    { type: "array" },
    ...MAJOR_TYPE_VALUES.filter(([, value]) => !(value instanceof Map)).map(
      ([label, value]): TopChange => ({ type: "replace", value, label }),
    ),
    ...MAJOR_TYPE_VALUES.filter(([, value]) => typeof value !== "string").map(
      ([label, value]): TopChange => ({ type: "member", member: "fmt", value, label }),
    ),
    ...MAJOR_TYPE_VALUES.filter(([, value]) => !(value instanceof Uint8Array)).map(
      ([label, value]): TopChange => ({ type: "member", member: "authData", value, label }),
    ),
    { type: "extra" },
    { type: "drop", member: "fmt" },
    { type: "drop", member: "attStmt" },
    { type: "drop", member: "authData" },
    { type: "duplicate" },
    { type: "indefinite" },
  ];
  const list = top.map((change): Mutation => ({ kind: "top", change }));
  for (const [label, value] of MAJOR_TYPE_VALUES) list.push({ kind: "credentialKey", value, label });
  for (const payload of Object.keys(EXTENSION_PAYLOADS) as ExtensionPayload[]) {
    list.push({ kind: "extensions", ed: true, payload }, { kind: "extensions", ed: false, payload });
  }
  return list;
}

/** Random changes (amounts, fill bytes, flag bytes), drawn by fast-check from the seed. */
function randomMutation(valid: Statement): fc.Arbitrary<Mutation> {
  const byteMembers = Object.entries(valid)
    .filter(([, value]) => value instanceof Uint8Array || Array.isArray(value))
    .map(([member]) => member);
  const amount = fc.integer({ min: 1, max: 80 });
  const byte = fc.integer({ min: 0, max: 255 });
  const arbitraries: fc.Arbitrary<Mutation>[] = [
    fc.record({
      kind: fc.constant("top" as const),
      change: fc.oneof(
        fc.record({ type: fc.constant("trailing" as const), bytes: fc.array(byte, { minLength: 1, maxLength: 16 }) }),
        fc.record({ type: fc.constant("truncate" as const), amount }),
      ),
    }),
    fc.record({ kind: fc.constant("flags" as const), flags: byte }),
    fc.record({
      kind: fc.constant("extensions" as const),
      ed: fc.boolean(),
      payload: fc.constantFrom(...(Object.keys(EXTENSION_PAYLOADS) as ExtensionPayload[])),
    }),
    fc.record({
      kind: fc.constant("authData" as const),
      change: fc.constantFrom("truncate" as const, "append" as const, "idLength" as const, "rpIdHash" as const),
      amount,
      fill: byte,
    }),
  ];
  if (byteMembers.length > 0) {
    arbitraries.push(
      fc.record({
        kind: fc.constant("bytes" as const),
        member: fc.constantFrom(...byteMembers),
        change: fc.constantFrom("truncate" as const, "extend" as const, "empty" as const),
        amount,
        fill: byte,
      }),
    );
  }
  return fc.oneof(...arbitraries);
}

function describeMutation(mutation: Mutation): string {
  return JSON.stringify(mutation, (_key, value) =>
    value instanceof Uint8Array ? `bytes(${value.length})` : value instanceof Map ? "map" : value,
  );
}

function changeBytes(bytes: Uint8Array, change: "truncate" | "extend" | "empty", amount: number, fill: number) {
  if (change === "empty") return new Uint8Array();
  if (change === "extend") return concat(bytes, new Uint8Array(amount).fill(fill));
  return bytes.slice(0, Math.max(0, bytes.length - amount));
}

function mutateStatement(statement: Statement, mutation: Mutation): unknown {
  switch (mutation.kind) {
    case "replace":
      return { ...statement, [mutation.member]: mutation.value };
    case "drop": {
      const { [mutation.member]: _, ...rest } = statement;
      return rest;
    }
    case "extra":
      return { ...statement, [mutation.member]: mutation.value };
    case "statement":
      return mutation.value;
    case "bytes": {
      const value = statement[mutation.member];
      const { change, amount, fill } = mutation;
      // In a certificate array the leaf is what changes.
      if (Array.isArray(value))
        return { ...statement, [mutation.member]: [changeBytes(value[0], change, amount, fill), ...value.slice(1)] };
      return { ...statement, [mutation.member]: changeBytes(value as Uint8Array, change, amount, fill) };
    }
    default:
      return statement;
  }
}

/** Changes authData before the statement is made over it. */
function mutateAuthData(authData: Uint8Array<ArrayBuffer>, mutation: Mutation): Uint8Array<ArrayBuffer> {
  const copy = authData.slice();
  const idLength = ((copy[53] ?? 0) << 8) | (copy[54] ?? 0);
  const keyOffset = 55 + idLength;
  switch (mutation.kind) {
    case "extensions": {
      copy[32] = mutation.ed ? (copy[32] ?? 0) | FLAG.ED : (copy[32] ?? 0) & ~FLAG.ED;
      return concat(copy, EXTENSION_PAYLOADS[mutation.payload].bytes);
    }
    case "credentialKey":
      return concat(copy.subarray(0, keyOffset), cbor(mutation.value));
    case "authData":
      switch (mutation.change) {
        case "truncate":
          return copy.slice(0, Math.max(0, copy.length - mutation.amount));
        case "append":
          return concat(copy, new Uint8Array(mutation.amount).fill(mutation.fill));
        case "idLength": {
          const wrong = Math.max(0, idLength + (mutation.amount % 2 ? mutation.amount : -mutation.amount));
          copy[53] = wrong >> 8;
          copy[54] = wrong & 0xff;
          return copy;
        }
        case "rpIdHash":
          copy[mutation.amount % 32] = (copy[mutation.amount % 32] ?? 0) ^ (1 << (mutation.fill % 8));
          return copy;
      }
      return copy;
    default:
      return copy;
  }
}

function mutateTop(encoded: Uint8Array<ArrayBuffer>, mutation: Mutation): Uint8Array<ArrayBuffer> {
  if (mutation.kind !== "top") return encoded;
  const change = mutation.change;
  const object = decode(encoded, { useMaps: true }) as Map<string, unknown>;
  const reencode = (value: unknown) => new Uint8Array(encode(value));
  switch (change.type) {
    case "trailing":
      return concat(encoded, new Uint8Array(change.bytes));
    case "truncate":
      return encoded.slice(0, Math.max(1, encoded.length - change.amount));
    case "replace":
      return reencode(change.value);
    case "array":
      return reencode([...object.values()]);
    case "member":
      return reencode(new Map([...object, [change.member, change.value]]));
    case "fmt":
      return reencode(new Map([...object, ["fmt", change.fmt]]));
    case "extra":
      return reencode(new Map([...object, ["extra", 1]]));
    case "drop": {
      const copy = new Map(object);
      copy.delete(change.member);
      return reencode(copy);
    }
    case "duplicate": {
      // A fourth entry repeating "fmt": the map header says four, the labels are not unique.
      const body = reencode(object).subarray(1);
      return concat(new Uint8Array([0xa4]), body, reencode("fmt"), reencode(object.get("fmt")));
    }
    case "indefinite":
      return concat(new Uint8Array([0xbf]), reencode(object).subarray(1), new Uint8Array([0xff]));
  }
}

// ---------------------------------------------------------------------------------------------
// Running a case.
// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  formats = await setUpFormats();
});
afterAll(() => vi.restoreAllMocks());

type Case = { format: Format; mutation: Mutation | null; accepted: boolean; label?: string };

/**
 * Cases run this many at a time: each has its own account and challenge, so they are
 * independent, and the Worker overlaps their storage round trips (1.5 to 1.8 times as fast as one
 * by one). Each answer is matched with its own events by the request id it carries.
 */
const CONCURRENT_CASES = 8;

const registrationEvents = (lines: string[], requestId: string | null) =>
  lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((r) => r.type === "security_event" && r.event === "registration_attempt" && r.requestId === requestId);

async function craft(surface: Surface, { format, mutation }: Case) {
  const options = await surface.options();
  const authDataChanged = mutation && ["flags", "extensions", "authData", "credentialKey"].includes(mutation.kind);
  return craftedRegistration(options, {
    fmt: format.fmt,
    aaguid: format.aaguid,
    credential: format.credential,
    flags: mutation?.kind === "flags" ? mutation.flags : DEFAULT_FLAGS,
    authData: authDataChanged ? (authData) => mutateAuthData(authData, mutation) : undefined,
    attStmt: async (parts) =>
      mutation ? mutateStatement(await format.attStmt(parts), mutation) : format.attStmt(parts),
    attestationObject: mutation ? (encoded) => mutateTop(encoded, mutation) : undefined,
  });
}

/** Every answer: under 500 and exactly one registration_attempt event, a success exactly when accepted. */
async function expectOutcomes(surface: Surface, cases: Case[]) {
  for (let start = 0; start < cases.length; start += CONCURRENT_CASES) {
    const batch = cases.slice(start, start + CONCURRENT_CASES);
    const crafted = await Promise.all(batch.map((c) => craft(surface, c)));
    const lines = captureLogLines();
    let answers: Awaited<ReturnType<Surface["submit"]>>[];
    try {
      answers = await Promise.all(crafted.map((credential) => surface.submit(credential)));
    } finally {
      vi.restoreAllMocks();
    }
    for (const [i, { format, mutation, accepted, label }] of batch.entries()) {
      const answer = answers[i] as Awaited<ReturnType<Surface["submit"]>>;
      const events = registrationEvents(lines, answer.headers.get("x-request-id"));
      const context = `${surface.name} ${format.name} ${mutation ? describeMutation(mutation) : "(unchanged)"}${label ? ` ${label}` : ""}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`;
      expect(answer.status, context).toBeLessThan(500);
      expect(events, context).toHaveLength(1);
      if (accepted) {
        expect(answer.status, context).toBeLessThan(300);
        expect(events[0]?.outcome, context).toBe("success");
      } else {
        expect(answer.status, context).toBe(400);
        expect(events[0]?.outcome, context).toBe("failure");
        if (surface.name === "native") expect(answer.body.error.code, context).toBe("REGISTRATION_FAILED");
        else expect(answer.body.status, context).toBe("failed");
      }
    }
  }
}

/** A valid statement of the format, to read its members' names and values from. */
async function sampleStatement(format: Format): Promise<Statement> {
  const options = await surfaces[0]?.options();
  let statement: Statement = {};
  await craftedRegistration(options, {
    fmt: format.fmt,
    aaguid: format.aaguid,
    credential: format.credential,
    attStmt: async (parts) => {
      statement = await format.attStmt(parts);
      return statement;
    },
  });
  return statement;
}

/** Changes of the authenticator data: they need a statement that signs it (packed self) or none at all. */
const changesAuthData = (mutation: Mutation) =>
  mutation.kind === "flags" ||
  mutation.kind === "extensions" ||
  mutation.kind === "authData" ||
  mutation.kind === "credentialKey";

describe.each(surfaces)("attestation objects changed below JSON, through the $name surface", (surface) => {
  it("every format's unchanged attestation has the expected outcome (the fuzzer starts from valid input)", async () => {
    await expectOutcomes(
      surface,
      formats.map((format) => ({ format, mutation: null, accepted: format.accepted[surface.name] })),
    );
  }, 60_000);

  it("each statement member of each format by each CBOR major type, cut, extended and dropped; extra members; non-map statements; other formats' names", async () => {
    const cases: Case[] = [];
    for (const format of formats) {
      for (const mutation of statementMutations(format, await sampleStatement(format))) {
        cases.push({ format, mutation, accepted: false });
      }
    }
    expect(cases.length).toBeGreaterThan(250);
    await expectOutcomes(surface, cases);
  }, 300_000);

  it("non-map, truncated, trailing, duplicate-label and indefinite-length top levels; credential keys of every major type; extension payloads with and without ED", async () => {
    const cases = sharedMutations().map((mutation, i): Case => {
      // Changed authenticator data goes to a format that signs it (packed self) or to none: with
      // another, a refusal could come from the signature alone. The rest is dealt round the formats.
      const format = (changesAuthData(mutation) ? formats[i % 2] : formats[i % formats.length]) as Format;
      return { format, mutation, accepted: authDataAllowed(mutation) && format.accepted[surface.name] };
    });
    await expectOutcomes(surface, cases);
  }, 300_000);

  it(`random cuts, extensions, trailing bytes, flag bytes and lengths (seed ${SEED}, ${RANDOM_RUNS} runs)`, async () => {
    const samples = await Promise.all(formats.map(sampleStatement));
    const seed = SEED + (surface.name === "binding" ? 1 : 0);
    const arbitrary = fc
      .integer({ min: 0, max: formats.length - 1 })
      .chain((index) => randomMutation(samples[index] as Statement).map((mutation) => ({ index, mutation })));
    // The values fc.assert would draw from this seed, in its order (no shrinking was done:
    // endOnFailure), drawn up front so the cases can run concurrently; a failure names its run.
    const cases = fc.sample(arbitrary, { seed, numRuns: RANDOM_RUNS }).map(({ index, mutation }, run): Case => {
      let format = formats[index] as Format;
      // Changed authenticator data is re-signed: by the credential key (packed self) or by nobody (none).
      if (changesAuthData(mutation) && !["none", "packed-self"].includes(format.name)) {
        format = formats[index % 2 === 0 ? 0 : 1] as Format;
      }
      const accepted = authDataAllowed(mutation) && format.accepted[surface.name];
      return { format, mutation, accepted, label: `(seed ${seed}, run ${run})` };
    });
    expect(cases).toHaveLength(RANDOM_RUNS);
    await expectOutcomes(surface, cases);
    // The oracle's accepting side was exercised, not only refusals.
    expect(cases.filter((c) => c.accepted).length).toBeGreaterThan(0);
  }, 300_000);
});
