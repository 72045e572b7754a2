import { isoBase64URL } from "@simplewebauthn/server/helpers";
import fc from "fast-check";
import { ORIGIN } from "./api";

/*
 * Requests for property-based fuzzing (test/fuzz-endpoints.test.ts). A request is a JSON tree —
 * path parameters, query string, headers, body — built valid for its route and then changed by
 * a few mutations, which may land anywhere in it: a passkey id, a query value, the
 * Authorization header, a field deep in a credential. `outgoing` turns the tree into HTTP.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

export type RequestTree = { params?: Json; query?: Json; headers?: Json; body?: Json };

type Mutation =
  | { kind: "replace"; pick: number; value: Json }
  | { kind: "delete"; pick: number }
  | { kind: "addKey"; pick: number; key: string; value: Json }
  | { kind: "transform"; pick: number; transform: StringTransform; seed: number }
  /** A real value from elsewhere (another account's ids, this account's other ids) in a string's place. */
  | { kind: "knownValue"; pick: number; index: number }
  /** Another credential in the Authorization header: none, a user's token, the admin key, near misses. */
  | { kind: "authorization"; index: number }
  | { kind: "raw"; text: string }
  | { kind: "truncateJson"; at: number }
  | { kind: "contentType"; value: string | null }
  /** A path segment sent as written, not percent-encoded: broken escapes, "..", "%2F". */
  | { kind: "rawSegment"; pick: number; text: string }
  /** The query string sent as written: repeated, empty, badly escaped parameters. */
  | { kind: "rawQuery"; text: string };

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

const rawSegments = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{0,100}$/),
  fc.constantFrom(
    "",
    "%",
    "%%",
    "%E0%A4%A",
    "%ED%A0%80",
    "%C0%AF",
    "%00",
    "%2F",
    "a%2Fb",
    "..",
    ".",
    "%2E%2E",
    "%20",
    "+",
    "-",
    "_",
    "AAAAAAAAAAAAAAAAAAAAAA%3D%3D",
    "A".repeat(65),
    "A".repeat(87),
    "me",
    "a/b",
    "?force=true",
    "#x",
  ),
);

const rawQueries = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    "",
    "&",
    "&&&",
    "=",
    "%",
    "%%%",
    "force",
    "force=",
    "force=true&force=true",
    "force=true&force=false",
    "force=%74rue",
    "force=TRUE",
    "force=1",
    "force=%ED%A0%80",
    "limit",
    "limit=",
    "limit=0",
    "limit=-1",
    "limit=101",
    "limit=1.5",
    "limit=1e1",
    "limit=0x10",
    "limit=%201",
    "limit=99999999999999999999999",
    "limit=NaN",
    "limit=Infinity",
    "limit=1&limit=2",
    "cursor=",
    "cursor=%ED%A0%80",
    "cursor=e30",
    "cursor=eyJhZnRlciI6MX0",
    `cursor=${"A".repeat(600)}`,
    "prefix=",
    "prefix=%E0%A4%A",
    `prefix=${"%C4%B0".repeat(40)}`,
    "prefix=%25",
    "prefix=_",
    "a[b]=c",
    "__proto__=x",
    "constructor=1",
  ),
);

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("replace"), pick: fc.nat(), value: weirdValue }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete"), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("addKey"),
      pick: fc.nat(),
      key: fc.oneof(fc.constantFrom("__proto__", "constructor", "extra", "id", "rawId", "force", ""), fc.string()),
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
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("knownValue"), pick: fc.nat(), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("authorization"), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("raw"), text: rawTexts }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncateJson"), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("contentType"), value: contentTypes }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("rawSegment"), pick: fc.nat(), text: rawSegments }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("rawQuery"), text: rawQueries }) },
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

/** What mutations may draw on besides random values: real ids and credentials of this test's accounts. */
export type Pools = { knownValues: string[]; authorizations: (string | undefined)[] };

export type Mutated = {
  tree: RequestTree;
  rawBody?: string;
  /** undefined: the route's default (application/json when the request has a body). */
  contentType?: string | null;
  rawSegment?: { pick: number; text: string };
  rawQuery?: string;
};

const isObject = (value: unknown): value is { [key: string]: Json } =>
  value !== null && typeof value === "object" && !Array.isArray(value);

export function apply(valid: RequestTree, mutations: Mutation[], pools: Pools): Mutated {
  const out: Mutated = { tree: valid };
  const tree = () => out.tree as Json;
  const set = (path: Path, value: Json | undefined) => {
    out.tree = setAt(tree(), path, value) as RequestTree;
  };
  for (const m of mutations) {
    const paths = pathsOf(tree());
    const path = "pick" in m && paths.length > 0 ? paths[m.pick % paths.length] : undefined;
    switch (m.kind) {
      case "replace":
        if (path) set(path, m.value);
        break;
      case "delete":
        if (path) set(path, undefined);
        break;
      case "addKey": {
        // Into the object at the picked path, or the nearest object above it (never the tree itself).
        let target = path ?? [];
        while (target.length > 0 && !isObject(containerAt(tree(), target))) target = target.slice(0, -1);
        if (target.length > 0) set([...target, m.key], m.value);
        break;
      }
      case "transform": {
        const current = path ? containerAt(tree(), path) : undefined;
        if (path && typeof current === "string") set(path, transformString(current, m.transform, m.seed));
        break;
      }
      case "knownValue": {
        const strings = paths.filter((p) => typeof containerAt(tree(), p) === "string");
        const target = strings[m.pick % Math.max(1, strings.length)];
        const value = pools.knownValues[m.index % pools.knownValues.length];
        if (target && value !== undefined) set(target, value);
        break;
      }
      case "authorization": {
        const value = pools.authorizations[m.index % pools.authorizations.length];
        const headers = isObject(out.tree.headers) ? { ...out.tree.headers } : {};
        if (value === undefined) delete headers.authorization;
        else headers.authorization = value;
        out.tree = { ...out.tree, headers };
        break;
      }
      case "raw":
        out.rawBody = m.text;
        break;
      case "truncateJson": {
        const text = JSON.stringify(out.tree.body ?? null);
        out.rawBody = text.slice(0, m.at % Math.max(1, text.length));
        break;
      }
      case "contentType":
        out.contentType = m.value;
        break;
      case "rawSegment":
        out.rawSegment = { pick: m.pick, text: m.text };
        break;
      case "rawQuery":
        out.rawQuery = m.text;
        break;
    }
  }
  return out;
}

export type Outgoing = { method: string; url: string; headers: Record<string, string>; body?: string };

const asText = (value: Json | undefined) => (typeof value === "string" ? value : JSON.stringify(value ?? null));

// Cloudflare's edge refuses URLs over 16 KB and request headers over 32 KB before a Worker runs,
// so longer ones are not something the Worker can be sent.
const MAX_URL = 16_000;
const MAX_HEADER = 16_000;

/** Each request from its own client address, so per-IP rate limits do not turn the run into 429s. */
const clientAddress = () => `198.51.100.${Math.floor(Math.random() * 254) + 1}`;

export function outgoing(method: string, template: string, mutated: Mutated): Outgoing {
  const { tree } = mutated;
  const names = [...template.matchAll(/:([A-Za-z]+)/g)].map((match) => match[1] as string);
  let index = 0;
  const path = template.replace(/:[A-Za-z]+/g, () => {
    const i = index++;
    if (mutated.rawSegment && mutated.rawSegment.pick % names.length === i) return mutated.rawSegment.text;
    const value = isObject(tree.params) ? tree.params[names[i] as string] : tree.params;
    return value === undefined ? "" : encodeURIComponent(asText(value).toWellFormed());
  });

  let query = mutated.rawQuery;
  if (query === undefined && tree.query !== undefined) {
    if (isObject(tree.query)) {
      const search = new URLSearchParams();
      for (const [key, value] of Object.entries(tree.query)) {
        for (const item of Array.isArray(value) ? value : [value]) search.append(key, asText(item));
      }
      query = search.toString();
    } else {
      query = encodeURIComponent(asText(tree.query).toWellFormed());
    }
  }
  const url = `${path}${query ? `?${query}` : ""}`.slice(0, MAX_URL);

  const hasBody = "body" in tree || mutated.rawBody !== undefined;
  const headers: Record<string, string> = { origin: ORIGIN, "cf-connecting-ip": clientAddress() };
  const contentType = mutated.contentType === undefined ? (hasBody ? "application/json" : null) : mutated.contentType;
  if (contentType !== null) headers["content-type"] = contentType;
  if (isObject(tree.headers)) {
    for (const [name, value] of Object.entries(tree.headers)) {
      // Only what an HTTP client can put on the wire: token names, printable ASCII values.
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || name.toLowerCase() in headers) continue;
      headers[name.toLowerCase()] = asText(value)
        .replace(/[^\t\x20-\x7E]/g, "?")
        .slice(0, MAX_HEADER);
    }
  }

  const body =
    method === "GET" || !hasBody
      ? undefined
      : (mutated.rawBody ?? JSON.stringify(tree.body === undefined ? null : tree.body));
  return { method, url, headers, body };
}
