import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { AppError } from "../errors";
import type { AppEnv } from "../http/app-env";

/** Largest body we read: an attestation with a certificate chain fits with room to spare. */
export const MAX_BODY_BYTES = 64 * 1024;

const tooLarge = (): never => {
  throw new AppError("PAYLOAD_TOO_LARGE", `Request body exceeds ${MAX_BODY_BYTES} bytes`);
};

const limit = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge });

/** Bodies are JSON and bounded; anything else is refused before it is read. */
export const jsonBody = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.method === "POST" || c.req.method === "PATCH") {
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
    }
  }
  const raw = c.req.raw;
  if (raw.body && raw.headers.has("content-length")) {
    // An honest oversize Content-Length is refused before a byte is read.
    if (!(Number(raw.headers.get("content-length")) <= MAX_BODY_BYTES)) tooLarge();
    // bodyLimit takes a Content-Length at its word and then reads whatever follows. A declared
    // length can understate the body, so drop it and let bodyLimit count the bytes it reads.
    const headers = new Headers(raw.headers);
    headers.delete("content-length");
    c.req.raw = new Request(raw, { headers });
  }
  return limit(c, next);
});
