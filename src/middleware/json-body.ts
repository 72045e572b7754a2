import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { AppError } from "../errors";
import type { AppEnv } from "../http/app-env";

/** Largest body we read: an attestation with a certificate chain fits with room to spare. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Loading FIDO metadata (PUT /api/v1/admin/metadata and …/statements, behind the admin key)
 * takes more: the production FIDO MDS BLOB is several MB. Declared at those routes
 * (src/routes/metadata.ts), and only there is more read.
 */
export const MAX_METADATA_BODY_BYTES = 32 * 1024 * 1024;

/**
 * Deepest nesting of arrays and objects a body may have. Our deepest legitimate bodies (a
 * credential's extension results, a metadata statement) are under ten levels; the cap keeps
 * recursive code after the parse (zod's z.json(), structuredClone, the libraries) from running
 * out of stack, which would be a 500.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether the JSON text nests arrays and objects deeper than `maxDepth`, found without parsing
 * (so without recursion): brackets are counted outside strings, and a string ends only at a
 * quote no backslash escapes. Text that is not JSON is left for the parser to refuse.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c /* \ */) i++;
      else if (char === 0x22 /* " */) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x5b /* [ */ || char === 0x7b /* { */) {
      if (++depth > maxDepth) return true;
    } else if (char === 0x5d /* ] */ || char === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/** Methods that are for sending a body: they must declare JSON even when they send none. */
const bodyMethods = new Set(["POST", "PUT", "PATCH"]);
const jsonType = /^application\/json\s*(;|$)/i;
const utf8 = new TextDecoder();

const tooLarge = (maxBytes: number): AppError =>
  new AppError("PAYLOAD_TOO_LARGE", `Request body exceeds ${maxBytes} bytes`);

/**
 * Reads the whole body, counting the bytes actually received: a Content-Length can understate
 * the body (or be missing, when it is sent chunked), so it is never taken at its word.
 */
async function readAtMost(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * Bodies are JSON and bounded, declared at the routes (or route groups) that take one, after
 * their rate limit and before their validator. A request that carries a body, whatever its
 * method, must say it is JSON (415 otherwise, before a byte is read). It is read once, up to
 * `maxBytes` (413 beyond it): Hono's `bodyLimit` refuses an oversize Content-Length before a
 * byte is read, and the read here counts the bytes actually received, since a Content-Length
 * can understate the body. One nested deeper than MAX_JSON_DEPTH is refused (400), so no
 * validator ever walks it. The text goes into Hono's body cache, where `c.req.json()` (and so
 * every validJson validator) takes it from. The raw stream is spent afterwards: read bodies
 * through `c.req`, never `c.req.raw`, and declare this once per route.
 */
export const jsonBody = ({ maxBytes = MAX_BODY_BYTES }: { maxBytes?: number } = {}) => {
  const declaredLimit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge(maxBytes);
    },
  });
  return createMiddleware<AppEnv>(async (c, next) => {
    const raw = c.req.raw;
    const declared = raw.headers.get("content-length");
    // A DELETE (say) with no body, or an explicitly empty one, is not held to the JSON rule.
    const carriesBody = bodyMethods.has(raw.method) || (raw.body !== null && declared !== "0");
    if (!carriesBody) return next();
    if (!jsonType.test(raw.headers.get("content-type") ?? "")) {
      throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
    }
    return declaredLimit(c, async () => {
      const body = c.req.raw.body;
      if (!body) return next();
      const text = utf8.decode(await readAtMost(body, maxBytes));
      if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
        throw new AppError(
          "INVALID_REQUEST",
          `Request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`,
        );
      }
      // Hono keeps body promises in this cache (its type says string, the runtime holds promises).
      c.req.bodyCache.text = Promise.resolve(text) as unknown as string;
      await next();
    });
  });
};
