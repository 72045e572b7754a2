import { describe, expect, it } from "vitest";
import { relatedOriginsDocument } from "../src/ceremonies/related-origins";
import { api } from "./support/api";
import { testWorker } from "./support/test-worker";

describe("GET /.well-known/webauthn", () => {
  it("answers 404 when every origin is the RP ID itself (the default configuration)", async () => {
    const response = await api("GET", "/.well-known/webauthn");
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("NOT_FOUND");
  });

  it("serves the web origins as the bare document browsers fetch when they span several domains", async () => {
    const worker = testWorker({
      env: {
        RP_ID: "example.com",
        RP_ORIGINS: "https://example.com, https://example.co.uk, https://shop.example.de, android:apk-key-hash:abc123",
      },
    });
    const response = await worker.api("GET", "/.well-known/webauthn");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("cache-control")).toBe("public, max-age=300");
    expect(response.body).toEqual({
      origins: ["https://example.com", "https://example.co.uk", "https://shop.example.de"],
    });
  });

  it("answers 404 when the other origins are all under the RP ID", async () => {
    const worker = testWorker({
      env: {
        RP_ID: "example.com",
        RP_ORIGINS: "https://example.com,https://login.example.com,https://a.b.example.com:8443,android:apk-key-hash:x",
      },
    });
    expect((await worker.api("GET", "/.well-known/webauthn")).status).toBe(404);
  });

  it("is not rate limited, like the other well-known documents", async () => {
    const response = await testWorker().fetch(new Request("http://localhost:8787/.well-known/webauthn"));
    expect(response.headers.get("ratelimit")).toBeNull();
  });
});

describe("which origins need the related origins document", () => {
  const need = (rpId: string, origins: string[]) => relatedOriginsDocument({ rpId, origins }) !== null;

  it("a sibling of the RP ID on the same registrable domain needs it (browsers only accept the RP ID and below)", () => {
    expect(need("login.example.com", ["https://login.example.com", "https://www.example.com"])).toBe(true);
    expect(need("login.example.com", ["https://example.com"])).toBe(true);
  });

  it("a look-alike domain that merely ends with the RP ID's text needs it", () => {
    expect(need("example.com", ["https://example.com", "https://notexample.com"])).toBe(true);
  });

  it("subdomains, ports and plain-HTTP local origins of the RP ID do not", () => {
    expect(need("example.com", ["https://example.com", "https://deep.sub.example.com:444"])).toBe(false);
    expect(need("localhost", ["http://localhost:8787"])).toBe(false);
  });

  it("Android app origins never count and are never listed", () => {
    expect(need("example.com", ["https://example.com", "android:apk-key-hash:abc"])).toBe(false);
    expect(
      relatedOriginsDocument({ rpId: "example.com", origins: ["https://example.org", "android:apk-key-hash:abc"] }),
    ).toEqual({
      origins: ["https://example.org"],
    });
  });
});
