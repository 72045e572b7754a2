// The reference point: the passkey server a TypeScript developer would write without the edge —
// plain Node HTTP, @simplewebauthn/server, in-memory maps, an ES256 session token from jose.
// Same endpoints and envelope as the Worker, so the same load generator drives both. What it
// leaves out is the point of the comparison: no rate limiting, no durable or shared storage, no
// blind index or encryption of credential ids, no logs, no request validation beyond JSON.
//
//   tsx bench/baseline-server.ts <port>     (the origin it accepts is http://localhost:<port>)
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { generateKeyPair, SignJWT } from "jose";

const port = Number(process.argv[2] ?? 8788);
const rpID = "localhost";
const origin = `http://localhost:${port}`;
const challengeTtlMs = 300_000;
const sessionTtlSeconds = 900;

type StoredCredential = {
  id: string;
  userId: string;
  publicKey: Uint8Array<ArrayBuffer>;
  counter: number;
  transports: AuthenticatorTransport[];
};
type User = { id: string; username: string; credentials: StoredCredential[] };
type PendingChallenge = {
  kind: "registration" | "authentication";
  expiresAt: number;
  userId?: string;
  username?: string;
};

const usersByName = new Map<string, User>();
const usersById = new Map<string, User>();
const credentialsById = new Map<string, StoredCredential>();
const challenges = new Map<string, PendingChallenge>();
const { privateKey } = await generateKeyPair("ES256");

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function takeChallenge(clientDataJSON: string, kind: PendingChallenge["kind"]) {
  const { challenge } = JSON.parse(isoBase64URL.toUTF8String(clientDataJSON)) as { challenge: string };
  const pending = challenges.get(challenge);
  challenges.delete(challenge);
  if (!pending || pending.kind !== kind || pending.expiresAt < Date.now()) {
    throw new HttpError(400, "INVALID_CHALLENGE", "The challenge is unknown, expired or already used");
  }
  return { challenge, pending };
}

const issueToken = (user: User) =>
  new SignJWT({ username: user.username })
    .setProtectedHeader({ alg: "ES256" })
    .setSubject(user.id)
    .setAudience(rpID)
    .setIssuedAt()
    .setExpirationTime(`${sessionTtlSeconds}s`)
    .sign(privateKey);

type Body = Record<string, unknown>;
const routes: Record<string, (body: Body) => Promise<[number, unknown]>> = {
  async "/api/v1/registration/challenge"(body) {
    const username = String(body.username ?? "")
      .trim()
      .toLowerCase();
    if (!username) throw new HttpError(400, "VALIDATION_ERROR", "username is required");
    if (usersByName.has(username)) throw new HttpError(409, "USERNAME_TAKEN", "This username is already registered");
    const userId = isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(16)));
    const options = await generateRegistrationOptions({
      rpName: "Baseline",
      rpID,
      userName: username,
      userID: isoBase64URL.toBuffer(userId),
      userDisplayName: String(body.displayName ?? username),
      attestationType: "none",
      authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
      supportedAlgorithmIDs: [-8, -7, -257],
    });
    challenges.set(options.challenge, {
      kind: "registration",
      expiresAt: Date.now() + challengeTtlMs,
      userId,
      username,
    });
    return [200, options];
  },

  async "/api/v1/registration/verify"(body) {
    const response = body.credential as RegistrationResponseJSON;
    const { challenge, pending } = takeChallenge(response.response.clientDataJSON, "registration");
    const verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      requireUserVerification: false,
    }).catch(() => ({ verified: false as const, registrationInfo: undefined }));
    const info = verification.registrationInfo;
    if (!verification.verified || !info) throw new HttpError(400, "REGISTRATION_FAILED", "Registration failed");
    const username = pending.username ?? "";
    if (usersByName.has(username) || credentialsById.has(info.credential.id)) {
      throw new HttpError(409, "CONFLICT", "Already registered");
    }
    const user: User = { id: pending.userId ?? "", username, credentials: [] };
    const credential: StoredCredential = {
      id: info.credential.id,
      userId: user.id,
      publicKey: new Uint8Array(info.credential.publicKey),
      counter: info.credential.counter,
      transports: (response.response.transports ?? []) as AuthenticatorTransport[],
    };
    user.credentials.push(credential);
    usersByName.set(username, user);
    usersById.set(user.id, user);
    credentialsById.set(credential.id, credential);
    return [201, { userId: user.id, username, credentialId: credential.id, token: await issueToken(user) }];
  },

  async "/api/v1/authentication/challenge"(body) {
    const user = typeof body.username === "string" ? usersByName.get(body.username.trim().toLowerCase()) : undefined;
    const options = await generateAuthenticationOptions({
      rpID,
      allowCredentials: user?.credentials.map(({ id, transports }) => ({ id, transports })),
      userVerification: "preferred",
    });
    challenges.set(options.challenge, {
      kind: "authentication",
      expiresAt: Date.now() + challengeTtlMs,
      userId: user?.id,
    });
    return [200, options];
  },

  async "/api/v1/authentication/verify"(body) {
    const response = body.credential as AuthenticationResponseJSON;
    const { challenge, pending } = takeChallenge(response.response.clientDataJSON, "authentication");
    const credential = credentialsById.get(response.id);
    const user = credential && usersById.get(credential.userId);
    const failed = new HttpError(401, "AUTHENTICATION_FAILED", "Authentication failed");
    if (!credential || !user || (pending.userId && pending.userId !== user.id)) throw failed;
    const verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      requireUserVerification: false,
      credential: { id: credential.id, publicKey: credential.publicKey, counter: credential.counter },
    }).catch(() => ({ verified: false as const, authenticationInfo: undefined }));
    if (!verification.verified || !verification.authenticationInfo) throw failed;
    credential.counter = verification.authenticationInfo.newCounter;
    return [
      200,
      {
        userId: user.id,
        username: user.username,
        credentialId: credential.id,
        signCount: credential.counter,
        token: await issueToken(user),
      },
    ];
  },
};

async function readJson(request: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new HttpError(413, "PAYLOAD_TOO_LARGE", "Request body too large");
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Body;
  } catch {
    throw new HttpError(400, "INVALID_REQUEST", "Body is not JSON");
  }
}

function send(response: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

const server = createServer(async (request, response) => {
  const timestamp = () => new Date().toISOString();
  try {
    const path = request.url ?? "/";
    if (request.method === "GET" && path === "/api/v1/health") {
      return send(response, 200, { status: "ok", data: { status: "healthy" }, timestamp: timestamp() });
    }
    const route = request.method === "POST" ? routes[path] : undefined;
    if (!route) throw new HttpError(404, "NOT_FOUND", `No route for ${request.method} ${path}`);
    const [status, data] = await route(await readJson(request));
    send(response, status, { status: "ok", data, timestamp: timestamp() });
  } catch (error) {
    const known = error instanceof HttpError ? error : new HttpError(500, "INTERNAL_ERROR", "Internal error");
    send(response, known.status, {
      status: "error",
      error: { code: known.code, message: known.message },
      timestamp: timestamp(),
    });
  }
});
server.keepAliveTimeout = 30_000;
server.listen(port, "127.0.0.1", () => console.log(`baseline listening on ${origin}`));
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => server.close(() => process.exit(0)));
