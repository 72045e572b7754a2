import { validate } from "@readme/openapi-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../src/app";
import { errorStatus } from "../src/errors";
import { tags } from "../src/http/openapi";
import * as responses from "../src/http/response-schemas";
import { apiReferencePolicy } from "../src/routes/api-reference";
import { type ApiResponse, api, bearer, signUp, uniqueUsername } from "./support/api";
import { admin } from "./support/management";
import { testWorker } from "./support/test-worker";

type Schema = { type?: string; enum?: string[]; properties?: Record<string, Schema>; required?: string[] } & Record<
  string,
  unknown
>;
type Operation = {
  operationId: string;
  tags: string[];
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; required?: boolean; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> };
};

let document: Document;

beforeAll(async () => {
  const response = await api("GET", "/api/v1/openapi.json");
  expect(response.status).toBe(200);
  document = response.body as unknown as Document;
});

/** The app's own routes (middleware is mounted as "ALL"), as OpenAPI path templates. */
const appRoutes = () =>
  [...new Set(app.routes.filter((route) => route.method !== "ALL").map((r) => `${r.method} ${r.path}`))].map((key) => {
    const [method = "", path = ""] = key.split(" ");
    return { method: method.toLowerCase(), path: path.replace(/:(\w+)/g, "{$1}") };
  });

const operation = (method: string, path: string): Operation => {
  const found = document.paths[path]?.[method.toLowerCase()];
  if (!found) throw new Error(`${method} ${path} is not in the document`);
  return found;
};

/** The error codes the document says `method path` can answer with `status`. */
const documentedCodes = (method: string, path: string, status: number): string[] => {
  const schema = operation(method, path).responses[String(status)]?.content?.["application/json"]?.schema;
  return schema?.properties?.error?.properties?.code?.enum ?? [];
};

/** A real answer is one the document describes: its status, and for errors its code. */
function expectDocumented(method: string, path: string, response: ApiResponse) {
  const responsesOf = operation(method, path).responses;
  expect(Object.keys(responsesOf), `${method} ${path} answered ${response.status}`).toContain(String(response.status));
  if (response.status >= 400) {
    expect(documentedCodes(method, path, response.status)).toContain(response.body.error.code);
  }
}

describe("the OpenAPI document at /api/v1/openapi.json", () => {
  it("is valid OpenAPI 3.1 (@readme/openapi-parser)", async () => {
    expect(document.openapi).toBe("3.1.0");
    // validate() dereferences in place: give it a copy.
    const result = await validate(structuredClone(document) as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("has every route of the app, and nothing else", () => {
    const routes = appRoutes();
    // Sanity: the route table is the app's, conformance binding included.
    expect(routes).toContainEqual({ method: "post", path: "/api/v1/registration/challenge" });
    expect(routes).toContainEqual({ method: "post", path: "/attestation/options" });
    const missing = routes.filter(({ method, path }) => !document.paths[path]?.[method]);
    expect(missing).toEqual([]);
    const documented = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method, path })),
    );
    expect(documented).toHaveLength(routes.length);
  });

  it("tags the FIDO conformance binding as a test surface, and only it", () => {
    for (const { method, path } of appRoutes()) {
      const isBinding = path.startsWith("/attestation/") || path.startsWith("/assertion/");
      expect(operation(method, path).tags.includes(tags.conformance), `${method} ${path}`).toBe(isBinding);
    }
  });

  it("describes every operation: a route without its apiDocs entry (src/http/api-docs.ts) fails here", () => {
    const undescribed = appRoutes().filter(({ method, path }) => {
      const op = operation(method, path) as Operation & { summary?: string };
      const success = Object.keys(op.responses ?? {}).filter((status) => /^2/.test(status));
      return (
        !op.summary || op.tags?.length !== 1 || success.length !== 1 || !op.responses[success[0] as string]?.content
      );
    });
    expect(undescribed).toEqual([]);
  });

  it("gives every operation a unique id", () => {
    const ids = appRoutes().map(({ method, path }) => operation(method, path).operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("describes requests with the schemas that validate them", () => {
    const challenge = operation("POST", "/api/v1/registration/challenge").requestBody?.content["application/json"]
      ?.schema as Schema;
    expect(challenge.required).toEqual(["username"]);
    expect(challenge.additionalProperties).toBe(false);
    expect(Object.keys(challenge.properties ?? {})).toEqual(
      expect.arrayContaining(["username", "displayName", "userVerification", "authenticatorSelection", "mediation"]),
    );
    const remove = operation("DELETE", "/api/v1/credentials/{id}");
    expect(remove.parameters).toContainEqual(expect.objectContaining({ in: "path", name: "id", required: true }));
    expect(remove.parameters).toContainEqual(
      expect.objectContaining({
        in: "query",
        name: "force",
        schema: expect.objectContaining({ enum: ["true", "false"] }),
      }),
    );
    const list = operation("GET", "/api/v1/admin/users");
    expect(list.parameters?.map((p) => p.name)).toEqual(expect.arrayContaining(["limit", "cursor", "prefix"]));
  });

  it("states who may call each route (the Authorization header) as a security requirement", () => {
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(["adminKey", "sessionToken"]);
    expect(operation("GET", "/api/v1/credentials").security).toEqual([{ sessionToken: [] }]);
    expect(operation("GET", "/api/v1/admin/users").security).toEqual([{ adminKey: [] }]);
    expect(operation("POST", "/api/v1/authentication/verify").security).toEqual([]);
    expect(operation("POST", "/api/v1/registration/challenge").security).toEqual([{}, { sessionToken: [] }]);
  });

  it("lists error codes only from src/errors.ts, each under its own status", () => {
    for (const { method, path } of appRoutes()) {
      if (operation(method, path).tags.includes(tags.conformance)) continue;
      for (const [status, response] of Object.entries(operation(method, path).responses)) {
        if (Number(status) < 400) continue;
        const codes = documentedCodes(method, path, Number(status));
        expect(codes.length, `${method} ${path} ${status}`).toBeGreaterThan(0);
        for (const code of codes) expect(errorStatus[code as keyof typeof errorStatus]).toBe(Number(status));
        expect(response.description).toBe(codes.join(", "));
      }
    }
  });

  it("describes what the API really answers, successes and failures", async () => {
    const user = await signUp();
    const { token, passkeyId } = user;

    const options = await api("POST", "/api/v1/authentication/challenge", { username: user.username });
    expectDocumented("POST", "/api/v1/authentication/challenge", options);
    expect(() => responses.envelope(responses.authenticationOptions).parse(options.body)).not.toThrow();

    const list = await api("GET", "/api/v1/credentials", undefined, bearer(token));
    expectDocumented("GET", "/api/v1/credentials", list);
    expect(() => responses.envelope(responses.passkeyList).parse(list.body)).not.toThrow();

    const me = await api("GET", "/api/v1/me", undefined, bearer(token));
    expect(() => responses.envelope(responses.accountView).parse(me.body)).not.toThrow();

    const renamed = await api("PATCH", `/api/v1/credentials/${passkeyId}`, { name: "Laptop" }, bearer(token));
    expectDocumented("PATCH", "/api/v1/credentials/{id}", renamed);
    expect(() => responses.envelope(responses.passkey).parse(renamed.body)).not.toThrow();

    const failures: [string, string, string, ApiResponse][] = [
      ["GET", "/api/v1/credentials", "UNAUTHORIZED", await api("GET", "/api/v1/credentials")],
      [
        "PATCH",
        "/api/v1/credentials/{id}",
        "CREDENTIAL_NOT_FOUND",
        await api("PATCH", "/api/v1/credentials/AAAAAAAAAAAAAAAAAAAAAA", { name: "x" }, bearer(token)),
      ],
      [
        "PATCH",
        "/api/v1/credentials/{id}",
        "VALIDATION_ERROR",
        await api("PATCH", `/api/v1/credentials/${passkeyId}`, { name: "" }, bearer(token)),
      ],
      [
        "DELETE",
        "/api/v1/credentials/{id}",
        "LAST_PASSKEY",
        await api("DELETE", `/api/v1/credentials/${passkeyId}`, undefined, bearer(token)),
      ],
      [
        "POST",
        "/api/v1/registration/challenge",
        "USERNAME_TAKEN",
        await api("POST", "/api/v1/registration/challenge", { username: user.username }),
      ],
      [
        "POST",
        "/api/v1/registration/verify",
        "UNSUPPORTED_MEDIA_TYPE",
        await api("POST", "/api/v1/registration/verify", "{}", { "content-type": "text/plain" }),
      ],
      [
        "POST",
        "/api/v1/authentication/verify",
        "INVALID_REQUEST",
        await api("POST", "/api/v1/authentication/verify", "{not json"),
      ],
      ["GET", "/api/v1/admin/users", "UNAUTHORIZED", await api("GET", "/api/v1/admin/users")],
      [
        "GET",
        "/api/v1/admin/users/{id}",
        "USER_NOT_FOUND",
        await api("GET", "/api/v1/admin/users/AAAAAAAAAAAAAAAAAAAAAA", undefined, admin),
      ],
    ];
    for (const [method, path, code, response] of failures) {
      expect(response.body.error?.code, `${method} ${path}`).toBe(code);
      expectDocumented(method, path, response);
      expect(() => responses.errorEnvelope().parse(response.body)).not.toThrow();
    }

    const users = await api("GET", `/api/v1/admin/users?prefix=${user.username}`, undefined, admin);
    expectDocumented("GET", "/api/v1/admin/users", users);
    expect(() => responses.envelope(responses.userListing).parse(users.body)).not.toThrow();
  });

  it("describes a fresh sign-up's answer", async () => {
    const username = uniqueUsername();
    const user = await signUp(username);
    expect(user.token).toBeTruthy();
    const detail = await api("GET", `/api/v1/admin/users/${user.userId}`, undefined, admin);
    expectDocumented("GET", "/api/v1/admin/users/{id}", detail);
    expect(() => responses.envelope(responses.userDetail).parse(detail.body)).not.toThrow();
  });
});

describe("the API reference page at /api/v1/docs", () => {
  it("is off unless API_DOCS is true", async () => {
    const response = await api("GET", "/api/v1/docs");
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("NOT_FOUND");
    // The error keeps the allow-nothing policy of every API answer.
    expect(response.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
  });

  it("serves the page with the security headers and a policy that allows only its own scripts", async () => {
    const response = await testWorker({ env: { API_DOCS: "true" } }).fetch(
      new Request("http://localhost:8787/api/v1/docs"),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(response.headers.get("content-security-policy")).toBe(apiReferencePolicy);
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("strict-transport-security")).toMatch(/^max-age=/);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await response.text();
    // No inline script: every <script> loads a same-origin file.
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map(([, attributes]) => attributes?.trim())).toEqual(['src="/api-reference/scalar.js"']);
    expect(scripts.every(([, , body]) => body === "")).toBe(true);
    expect(html).toContain('data-url="/api/v1/openapi.json"');
    expect(html).toContain("&quot;withDefaultFonts&quot;:false");
  });
});
