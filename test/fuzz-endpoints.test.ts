import { env } from "cloudflare:workers";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { getTableName, is } from "drizzle-orm";
import { SQLiteTable } from "drizzle-orm/sqlite-core";
import fc from "fast-check";
import { CompactSign } from "jose";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../src/app";
import * as schema from "../src/db/schema";
import { type ErrorCode, errorStatus } from "../src/errors";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { bindingClient, createTestCA, type TestCA } from "./conformance/binding-client";
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
import { dumpDatabase } from "./support/database-dump";
import { addPasskey, admin, adminKey, expiredToken } from "./support/management";
import {
  apply,
  type Json,
  mutation,
  type Outgoing,
  outgoing,
  type Pools,
  type RequestTree,
} from "./support/request-fuzzing";
import { testWorker } from "./support/test-worker";

// ---------------------------------------------------------------------------------------
// Sending a request (test/support/request-fuzzing.ts builds it), and what every answer must satisfy.
// ---------------------------------------------------------------------------------------

type Answer = { status: number; contentType: string | null; text: string };

type Transport = (request: Request) => Promise<Response>;

/** The app with wrangler.toml's settings (CONFORMANCE_API off). */
const worker: Transport = testWorker().fetch;

/** The same app with the conformance binding on and our own MDS root (set up in beforeAll). */
let testSurfaces: Transport = () => {
  throw new Error("not set up yet");
};

let relatedOrigins: Transport | undefined;
let apiReference: Transport | undefined;

/**
 * Metrics configured, with the Analytics Engine SQL API (the network) standing in at `fetch`
 * with an empty window in its documented FORMAT JSON shape (test/metrics.test.ts covers the rest).
 */
function toMetrics(): Transport {
  const configured = transportWith({ CF_ACCOUNT_ID: "0123456789abcdef0123456789abcdef", ANALYTICS_API_TOKEN: "fuzz" });
  return async (request) => {
    const sqlApi = vi
      .spyOn(globalThis, "fetch")
      .mockImplementation(async () => Response.json({ meta: [], data: [], rows: 0 }));
    try {
      return await configured(request);
    } finally {
      sqlApi.mockRestore();
    }
  };
}

function transportWith(overrides: Record<string, unknown>): Transport {
  return testWorker({ env: overrides }).fetch;
}

async function send(transport: Transport, request: Outgoing): Promise<Answer> {
  const response = await transport(
    new Request(`http://localhost:8787${request.url}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    }),
  );
  return { status: response.status, contentType: response.headers.get("content-type"), text: await response.text() };
}

/** The offending request and answer, printed with any failed expectation (the admin key masked). */
function report(request: Outgoing, answer: Answer): string {
  const mask = (text: string) =>
    text.replaceAll(adminKey, "<ADMIN_API_KEY>").replaceAll(btoa(`admin:${adminKey}`), "<admin:ADMIN_API_KEY>");
  const headers = { ...request.headers };
  delete headers["cf-connecting-ip"];
  const body =
    request.body === undefined
      ? "(none)"
      : `${JSON.stringify(request.body.slice(0, 1500))}${request.body.length > 1500 ? ` … (${request.body.length} chars)` : ""}`;
  return mask(
    [
      `request: ${request.method} ${request.url.slice(0, 500)}${request.url.length > 500 ? ` … (${request.url.length} chars)` : ""}`,
      `headers: ${JSON.stringify(headers).slice(0, 1000)}`,
      `body: ${body}`,
      `answer: ${answer.status} ${answer.contentType} ${answer.text.slice(0, 600)}`,
    ].join("\n"),
  );
}

/**
 * How a route answers. "native": the /api envelope both ways. "document": a bare JSON document
 * when it succeeds (.well-known), the envelope when it fails. "conformance": the FIDO binding's
 * ServerResponse, `{status:"failed", errorMessage}` when it fails.
 */
/** "text": a page or the Prometheus text format on success, our JSON errors otherwise. */
type Surface = "native" | "document" | "conformance" | "text";

function expectWellFormedAnswer(surface: Surface, answer: Answer, context: string) {
  const statusClass = Math.floor(answer.status / 100);
  expect(statusClass === 2 || statusClass === 4, `not a 2xx or 4xx\n${context}`).toBe(true);
  if (surface === "text" && statusClass === 2) {
    expect(answer.contentType, context).toMatch(/^text\/(html|plain)/);
    expect(answer.text, context).toMatch(/\S/);
    return;
  }
  expect(answer.contentType, context).toMatch(/^application\/json/);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(answer.text);
  } catch {
    expect.fail(`the answer is not JSON\n${context}`);
  }
  if (statusClass === 4 && surface === "conformance") {
    expect(body, context).toEqual({ status: "failed", errorMessage: expect.stringMatching(/\S/) });
  } else if (statusClass === 4) {
    expect(body, context).toEqual({
      status: "error",
      error: expect.objectContaining({
        code: expect.stringMatching(/^[A-Z_]+$/),
        message: expect.stringMatching(/\S/),
      }),
      timestamp: expect.any(String),
    });
    // The code is one of ours and the HTTP status is the one mapped to it.
    const code = (body.error as { code: string }).code;
    expect(errorStatus[code as ErrorCode], context).toBe(answer.status);
  } else if (surface === "conformance") {
    expect(body, context).toMatchObject({ status: "ok", errorMessage: "" });
  } else if (surface === "native") {
    expect(body, context).toMatchObject({ status: "ok", timestamp: expect.any(String) });
    expect(body, context).toHaveProperty("data");
  }
}

type Dump = Awaited<ReturnType<typeof dumpDatabase>>;

/**
 * The two dumps are equal. They hold what D1 returns (strings, numbers, null), so equal JSON is
 * equal content: that quick comparison settles almost every run, and `toEqual` (slow on
 * thousands of rows) judges and describes any difference.
 */
function expectSameDatabase(after: Dump, before: Dump, message: string) {
  if (JSON.stringify(after) !== JSON.stringify(before)) expect(after, message).toEqual(before);
}

// ---------------------------------------------------------------------------------------
// The routes: each with how to make a valid request for it, made fresh for every run.
// ---------------------------------------------------------------------------------------

type Fixture = {
  /** A request the route accepts as it is (checked in "the fuzzer's starting points"). */
  start: () => Promise<RequestTree>;
  /** Real values of this fixture's account that belong somewhere else (its user id where a passkey id goes). */
  knownValues?: string[];
};

type RouteSpec = {
  /** "METHOD /template" exactly as Hono lists the route. */
  route: string;
  /** Test name, when one route has more than one starting point. */
  name?: string;
  surface: Surface;
  transport: () => Transport;
  runs: number;
  /**
   * A request that succeeds may take away what the next runs need (deletes, disables): a fresh
   * fixture (and bystander) is made after every success, so later runs again start near-valid.
   */
  destructive?: boolean;
  setup: () => Promise<Fixture>;
};

let member: SignedUp;
/** An account that is not the one under test: its ids and token are thrown at every route. */
let bystander: SignedUp & { expiredToken: string };
const neverIssuedId = isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(16)));

async function renewBystander() {
  const user = await signUp(uniqueUsername("fuzz-bystander"));
  bystander = { ...user, expiredToken: await expiredToken(user) };
}

function pools(fixture: Fixture): Pools {
  return {
    knownValues: [bystander.userId, bystander.passkeyId, neverIssuedId, ...(fixture.knownValues ?? [])],
    authorizations: [
      undefined,
      `Bearer ${bystander.token}`,
      admin.authorization,
      `Bearer ${bystander.expiredToken}`,
      `${admin.authorization}x`,
      `bearer ${bystander.token}`,
      bystander.token,
      `Basic ${btoa(`admin:${adminKey}`)}`,
      `Bearer ${"x".repeat(43)}`,
      "Bearer ",
    ],
  };
}

async function fuzz(spec: RouteSpec) {
  const [method = "GET", template = "/"] = spec.route.split(" ");
  let fixture = await spec.setup();
  // Routes that read no input (health, .well-known) have nothing to refuse: they must only never fail.
  const readsInput = Object.keys(await fixture.start()).length > 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const request = outgoing(method, template, apply(await fixture.start(), mutations, pools(fixture)));
      const before = await dumpDatabase();
      const answer = await send(spec.transport(), request);
      const context = report(request, answer);
      expectWellFormedAnswer(spec.surface, answer, context);
      if (answer.status >= 400) {
        refused++;
        expectSameDatabase(await dumpDatabase(), before, `a refused request changed the database\n${context}`);
      } else if (spec.destructive) {
        await renewBystander();
        fixture = await spec.setup();
      }
    }),
    { numRuns: spec.runs, endOnFailure: true },
  );
  // The unchanged-database property was checked, not only the answers' shape.
  if (readsInput) expect(refused).toBeGreaterThan(0);
}

async function registrationResponse(): Promise<Json> {
  const authenticator = await SoftAuthenticator.create();
  const options = await registrationOptions({ username: uniqueUsername("fuzzed"), displayName: "Fuzzed User" });
  return { credential: (await authenticator.register(options.body.data, { origin: ORIGIN })) as unknown as Json };
}

async function authenticationResponse(): Promise<Json> {
  const options = await authenticationOptions({ username: member.username });
  return { credential: (await member.authenticator.assert(options.body.data, { origin: ORIGIN })) as unknown as Json };
}

// The conformance binding, through the same app with CONFORMANCE_API = "true".
const binding = bindingClient();
let bindingMember: { username: string; authenticator: SoftAuthenticator };

// FIDO MDS3 BLOBs signed under a root of our own, which the test surfaces trust (MDS_ROOT_CERT).
let mdsRoot: TestCA;
let blobNumber = Math.floor(Date.now() / 1000);

let sourceCounter = 0;
const der = (certificate: { rawData: ArrayBuffer }) =>
  isoBase64URL.fromBuffer(new Uint8Array(certificate.rawData), "base64");

function metadataStatement(aaguid: string): Json {
  return {
    aaguid,
    description: "Fuzz FIDO2 authenticator",
    schema: 3,
    protocolFamily: "fido2",
    attestationTypes: ["basic_full"],
    authenticationAlgorithms: ["secp256r1_ecdsa_sha256_raw"],
    attestationRootCertificates: [der(mdsRoot.root)],
  };
}

async function signedBlob(): Promise<string> {
  const signer = await mdsRoot.issueBatch({ subject: "CN=Fuzz MDS3 BLOB Signer, O=Test, C=US" });
  const aaguid = crypto.randomUUID();
  const payload = {
    legalHeader: "Test metadata, for tests only.",
    no: ++blobNumber,
    nextUpdate: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10),
    entries: [
      {
        aaguid,
        metadataStatement: metadataStatement(aaguid),
        statusReports: [{ status: "FIDO_CERTIFIED", effectiveDate: "2024-01-01" }],
        timeOfLastStatusChange: "2024-01-01",
      },
    ],
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: "ES256", typ: "JWT", x5c: [der(signer.certificate)] })
    .sign(signer.privateKey);
}

/** A fresh account; `extra` adds a second passkey. */
async function account(extra = false) {
  const user = await signUp(uniqueUsername("fuzz-target"));
  const second = extra ? await addPasskey(user) : undefined;
  return { user, second };
}

/** The first page of a listing, for a real cursor to start from. */
async function listingCursor(): Promise<string> {
  const page = await api("GET", "/api/v1/admin/users?limit=1&prefix=fuzz", undefined, admin);
  if (typeof page.body.data?.nextCursor !== "string") throw new Error(`no cursor: ${JSON.stringify(page.body)}`);
  return page.body.data.nextCursor;
}

const toWorker = () => worker;
const toTestSurfaces = () => testSurfaces;
const RUNS = 100;

const specs: RouteSpec[] = [
  {
    route: "POST /api/v1/registration/challenge",
    surface: "native",
    transport: toWorker,
    runs: RUNS,
    setup: async () => ({
      start: async () => ({
        body: {
          username: uniqueUsername("fuzzed"),
          displayName: "Fuzzed User",
          userVerification: "preferred",
          attestation: "none",
          authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
          extensions: { credProps: true },
        },
      }),
    }),
  },
  {
    route: "POST /api/v1/registration/challenge",
    name: "POST /api/v1/registration/challenge with a session token (adding a passkey)",
    surface: "native",
    transport: toWorker,
    runs: 40,
    // A fresh sign-up: adding a passkey needs a verified sign-in of the last few minutes
    // (REAUTHENTICATION_WINDOW_SECONDS), which the suite's long-lived member may be past.
    setup: async () => {
      const { user } = await account();
      return {
        start: async () => ({ headers: bearer(user.token), body: { username: user.username } }),
        knownValues: [user.username, member.username],
      };
    },
  },
  {
    route: "POST /api/v1/registration/verify",
    surface: "native",
    transport: toWorker,
    runs: RUNS,
    setup: async () => ({ start: async () => ({ body: await registrationResponse() }) }),
  },
  {
    route: "POST /api/v1/authentication/challenge",
    surface: "native",
    transport: toWorker,
    runs: RUNS,
    setup: async () => ({
      start: async () => ({ body: { username: member.username, userVerification: "preferred" } }),
    }),
  },
  {
    route: "POST /api/v1/authentication/verify",
    surface: "native",
    transport: toWorker,
    runs: RUNS,
    setup: async () => ({ start: async () => ({ body: await authenticationResponse() }) }),
  },
  {
    route: "GET /api/v1/health",
    surface: "native",
    transport: toWorker,
    runs: 20,
    setup: async () => ({ start: async () => ({}) }),
  },
  {
    route: "GET /.well-known/jwks.json",
    surface: "document",
    transport: toWorker,
    runs: 20,
    setup: async () => ({ start: async () => ({}) }),
  },
  {
    route: "GET /.well-known/webauthn",
    surface: "document",
    // With one origin there is no related-origins document to serve (404); two make one.
    transport: () => {
      relatedOrigins ??= transportWith({ RP_ORIGINS: "http://localhost:8787,https://other.example" });
      return relatedOrigins;
    },
    runs: 20,
    setup: async () => ({ start: async () => ({}) }),
  },
  {
    route: "GET /api/v1/openapi.json",
    surface: "document",
    transport: toWorker,
    runs: 20,
    setup: async () => ({ start: async () => ({}) }),
  },
  {
    route: "GET /api/v1/docs",
    surface: "text",
    // Off by default (404); on as `npm run dev` runs it.
    transport: () => {
      apiReference ??= transportWith({ API_DOCS: "true" });
      return apiReference;
    },
    runs: 20,
    setup: async () => ({ start: async () => ({}) }),
  },
  {
    route: "GET /api/v1/credentials",
    surface: "native",
    transport: toWorker,
    runs: 30,
    setup: async () => {
      const { user } = await account();
      return { start: async () => ({ headers: bearer(user.token) }) };
    },
  },
  {
    route: "PATCH /api/v1/credentials/:id",
    surface: "native",
    transport: toWorker,
    runs: RUNS,
    setup: async () => {
      const { user } = await account();
      return {
        start: async () => ({
          params: { id: user.passkeyId },
          headers: bearer(user.token),
          body: { name: "Work laptop" },
        }),
        knownValues: [user.userId],
      };
    },
  },
  {
    route: "DELETE /api/v1/credentials/:id",
    name: "DELETE /api/v1/credentials/:id?force=true (the last passkey)",
    surface: "native",
    transport: toWorker,
    runs: 50,
    destructive: true,
    setup: async () => {
      const { user } = await account();
      return {
        start: async () => ({ params: { id: user.passkeyId }, query: { force: "true" }, headers: bearer(user.token) }),
        knownValues: [user.userId],
      };
    },
  },
  {
    route: "DELETE /api/v1/credentials/:id",
    name: "DELETE /api/v1/credentials/:id?force=false (one of two passkeys)",
    surface: "native",
    transport: toWorker,
    runs: 50,
    destructive: true,
    setup: async () => {
      const { user, second } = await account(true);
      return {
        start: async () => ({
          params: { id: second?.passkeyId ?? "" },
          query: { force: "false" },
          headers: bearer(user.token),
        }),
        knownValues: [user.userId, user.passkeyId],
      };
    },
  },
  {
    route: "GET /api/v1/me",
    surface: "native",
    transport: toWorker,
    runs: 30,
    setup: async () => {
      const { user } = await account();
      return { start: async () => ({ headers: bearer(user.token) }) };
    },
  },
  {
    route: "DELETE /api/v1/me",
    surface: "native",
    transport: toWorker,
    runs: 50,
    destructive: true,
    setup: async () => {
      const { user } = await account();
      return { start: async () => ({ headers: bearer(user.token) }) };
    },
  },
  {
    route: "DELETE /api/v1/session",
    surface: "native",
    transport: toWorker,
    runs: 50,
    destructive: true,
    setup: async () => {
      const { user } = await account();
      return { start: async () => ({ headers: bearer(user.token) }) };
    },
  },
  {
    route: "GET /api/v1/admin/users",
    surface: "native",
    transport: toWorker,
    runs: 80,
    setup: async () => {
      const cursor = await listingCursor();
      return { start: async () => ({ query: { limit: "2", prefix: "fuzz", cursor }, headers: { ...admin } }) };
    },
  },
  {
    route: "GET /api/v1/admin/users/:id",
    surface: "native",
    transport: toWorker,
    runs: 40,
    setup: async () => {
      const { user } = await account();
      return {
        start: async () => ({ params: { id: user.userId }, headers: { ...admin } }),
        knownValues: [user.passkeyId],
      };
    },
  },
  {
    route: "PATCH /api/v1/admin/users/:id",
    surface: "native",
    transport: toWorker,
    runs: 70,
    destructive: true,
    setup: async () => {
      const { user } = await account();
      return {
        start: async () => ({ params: { id: user.userId }, headers: { ...admin }, body: { active: false } }),
        knownValues: [user.passkeyId],
      };
    },
  },
  {
    route: "DELETE /api/v1/admin/users/:id",
    surface: "native",
    transport: toWorker,
    runs: 50,
    destructive: true,
    setup: async () => {
      const { user } = await account();
      return {
        start: async () => ({ params: { id: user.userId }, headers: { ...admin } }),
        knownValues: [user.passkeyId],
      };
    },
  },
  {
    route: "PATCH /api/v1/admin/credentials/:id",
    surface: "native",
    transport: toWorker,
    runs: 70,
    destructive: true,
    setup: async () => {
      const { user } = await account();
      return {
        start: async () => ({ params: { id: user.passkeyId }, headers: { ...admin }, body: { active: false } }),
        knownValues: [user.userId],
      };
    },
  },
  {
    route: "DELETE /api/v1/admin/credentials/:id",
    surface: "native",
    transport: toWorker,
    runs: 50,
    destructive: true,
    setup: async () => {
      const { user } = await account();
      return {
        start: async () => ({ params: { id: user.passkeyId }, headers: { ...admin } }),
        knownValues: [user.userId],
      };
    },
  },
  {
    route: "GET /api/v1/admin/metrics",
    surface: "text",
    transport: toMetrics,
    runs: 30,
    setup: async () => ({ start: async () => ({ headers: { ...admin }, query: { window: "600" } }) }),
  },
  {
    route: "GET /api/v1/admin/metadata",
    surface: "native",
    transport: toTestSurfaces,
    runs: 20,
    setup: async () => ({ start: async () => ({ headers: { ...admin } }) }),
  },
  {
    route: "PUT /api/v1/admin/metadata",
    surface: "native",
    transport: toTestSurfaces,
    runs: 60,
    setup: async () => ({
      start: async () => ({ headers: { ...admin }, body: { blob: await signedBlob(), source: "fuzz-mds" } }),
    }),
  },
  {
    route: "PUT /api/v1/admin/metadata/statements",
    surface: "native",
    transport: toTestSurfaces,
    runs: 40,
    setup: async () => ({
      start: async () => ({ headers: { ...admin }, body: { statements: [metadataStatement(crypto.randomUUID())] } }),
    }),
  },
  {
    route: "DELETE /api/v1/admin/metadata/:source",
    surface: "native",
    transport: toTestSurfaces,
    runs: 40,
    destructive: true,
    setup: async () => {
      const source = `fuzz-${(++sourceCounter).toString(36)}`;
      const loaded = await send(testSurfaces, {
        method: "PUT",
        url: "/api/v1/admin/metadata",
        headers: { ...admin, origin: ORIGIN, "content-type": "application/json" },
        body: JSON.stringify({ blob: await signedBlob(), source }),
      });
      if (loaded.status !== 201) throw new Error(`metadata load failed: ${loaded.text}`);
      return { start: async () => ({ params: { source }, headers: { ...admin } }), knownValues: ["mds", "statements"] };
    },
  },
  {
    route: "POST /attestation/options",
    surface: "conformance",
    transport: toTestSurfaces,
    runs: 80,
    setup: async () => ({
      start: async () => {
        const username = uniqueUsername("fido-fuzzed");
        return {
          body: {
            username,
            displayName: `Display ${username}`,
            attestation: "direct",
            authenticatorSelection: { residentKey: "preferred", userVerification: "preferred" },
            extensions: { credProps: true },
          },
        };
      },
    }),
  },
  {
    route: "POST /attestation/result",
    surface: "conformance",
    transport: toTestSurfaces,
    runs: 80,
    setup: async () => ({
      start: async () => {
        const username = uniqueUsername("fido-fuzzed");
        const created = await binding.creationOptions({ username, displayName: `Display ${username}` });
        const authenticator = await SoftAuthenticator.create();
        return { body: (await authenticator.register(created.body, { origin: ORIGIN })) as unknown as Json };
      },
    }),
  },
  {
    route: "POST /assertion/options",
    surface: "conformance",
    transport: toTestSurfaces,
    runs: 80,
    setup: async () => ({
      start: async () => ({ body: { username: bindingMember.username, userVerification: "preferred" } }),
    }),
  },
  {
    route: "POST /assertion/result",
    surface: "conformance",
    transport: toTestSurfaces,
    runs: 80,
    setup: async () => ({
      start: async () => {
        const requested = await binding.getOptions({ username: bindingMember.username });
        return {
          body: (await bindingMember.authenticator.assert(requested.body, { origin: ORIGIN })) as unknown as Json,
        };
      },
    }),
  },
];

beforeAll(async () => {
  member = await signUp(uniqueUsername("fuzz"), { backupEligible: true, backupState: true });
  await renewBystander();
  mdsRoot = await createTestCA("Fuzz MDS3 Root");
  testSurfaces = transportWith({ CONFORMANCE_API: "true", MDS_ROOT_CERT: mdsRoot.root.toString("pem") });
  const registered = await binding.register();
  if (registered.result.status !== 200) throw new Error(`binding registration: ${JSON.stringify(registered.result)}`);
  bindingMember = registered;
});

const TIMEOUT = 120_000;

describe("fuzzing every endpoint: 2xx or a 4xx JSON error, never 5xx; a refused request changes nothing", () => {
  it("covers every route the app serves, and only those", () => {
    const served = app.routes
      .filter((route) => route.method !== "ALL" && !route.path.includes("*"))
      .map((route) => `${route.method} ${route.path}`);
    expect([...new Set(specs.map((spec) => spec.route))].sort()).toEqual([...new Set(served)].sort());
  });

  it("compares every table of the schema before and after a refused request", async () => {
    const tables = (await dumpDatabase()).map((dump) => dump.table);
    const declared = Object.values(schema)
      .filter((value) => is(value, SQLiteTable))
      .map((table) => getTableName(table));
    expect(declared.length).toBeGreaterThan(0);
    expect(tables).toEqual(expect.arrayContaining(declared));
  });

  it.each(specs.map((spec) => [spec.name ?? spec.route, spec] as const))("%s", (_name, spec) => fuzz(spec), TIMEOUT);
});

describe("the fuzzer's starting points", () => {
  it.each(specs.map((spec) => [spec.name ?? spec.route, spec] as const))(
    "%s: the unchanged request is accepted",
    async (_name, spec) => {
      const [method = "GET", template = "/"] = spec.route.split(" ");
      const fixture = await spec.setup();
      const request = outgoing(method, template, { tree: await fixture.start() });
      const answer = await send(spec.transport(), request);
      const context = report(request, answer);
      expect(Math.floor(answer.status / 100), context).toBe(2);
      expectWellFormedAnswer(spec.surface, answer, context);
    },
  );
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

describe("deeply nested JSON (issue 11, item 3)", () => {
  const DEPTH = 5000;
  const deepArray = `${"[".repeat(DEPTH)}${"]".repeat(DEPTH)}`;
  const deepObject = `${'{"a":'.repeat(DEPTH)}1${"}".repeat(DEPTH)}`;
  const placeholder = "__deeply_nested__";
  /**
   * The route's valid body with a deep array where recursive validators look: extensions (the
   * binding takes any JSON there) and extension results. (Built as text: the value itself is
   * too deep for JSON.stringify to be a fair way to make it.)
   */
  const insideValidBody = (body: Json | undefined): string => {
    const tree: Record<string, Json> =
      body !== null && typeof body === "object" && !Array.isArray(body) ? { ...body } : {};
    tree.extensions = { example: placeholder };
    if (tree.credential !== null && typeof tree.credential === "object" && !Array.isArray(tree.credential)) {
      tree.credential = { ...tree.credential, clientExtensionResults: { example: placeholder } };
    }
    if ("clientExtensionResults" in tree) tree.clientExtensionResults = { example: placeholder };
    return JSON.stringify(tree).replaceAll(`"${placeholder}"`, deepArray);
  };
  const shapes: [string, (body: Json | undefined) => string][] = [
    ["arrays", () => deepArray],
    ["objects", () => deepObject],
    ["an array inside the valid body", insideValidBody],
  ];

  // Every route that takes a body, sent as its valid request would be (path, query, headers).
  it.each(
    specs
      .filter((spec) => !spec.route.startsWith("GET "))
      .flatMap((spec) => shapes.map(([shape, body]) => [`${spec.name ?? spec.route}, ${shape}`, spec, body] as const)),
  )(
    "%s 5000 deep: a 4xx JSON error, nothing changed",
    async (_name, spec, deepBody) => {
      const [method = "POST", template = "/"] = spec.route.split(" ");
      const fixture = await spec.setup();
      const tree = await fixture.start();
      const request = { ...outgoing(method, template, { tree }), body: deepBody(tree.body) };
      request.headers["content-type"] = "application/json";
      const before = await dumpDatabase();
      const answer = await send(spec.transport(), request);
      const context = report(request, answer);
      expect(Math.floor(answer.status / 100), context).toBe(4);
      expectWellFormedAnswer(spec.surface, answer, context);
      expectSameDatabase(await dumpDatabase(), before, context);
    },
    TIMEOUT,
  );
});
