// The peer `npm run bench` compares ours with: the passkey server a TypeScript developer would
// write without the edge (@simplewebauthn/server, in-memory maps, an ES256 session token from
// jose), as a Worker, so that it runs in the same wrangler dev and workerd as ours. Same endpoints
// and envelope as ours, so the same client drives both. What it leaves out is the point of the
// comparison: no rate limiting, no durable or shared storage (its maps live in one isolate and
// vanish with it), no encryption or blind index of credential ids, no logs, no input validation
// beyond JSON. The bench sets ORIGIN (the web origin its clients run on) with --var.
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

const rpID = "localhost";
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
let signingKey: Promise<CryptoKey> | undefined;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(code);
  }
}

function takeChallenge(clientDataJSON: string, kind: PendingChallenge["kind"]) {
  const { challenge } = JSON.parse(isoBase64URL.toUTF8String(clientDataJSON)) as { challenge: string };
  const pending = challenges.get(challenge);
  challenges.delete(challenge);
  if (!pending || pending.kind !== kind || pending.expiresAt < Date.now())
    throw new HttpError(400, "INVALID_CHALLENGE");
  return { challenge, pending };
}

async function issueToken(user: User) {
  signingKey ??= generateKeyPair("ES256").then((pair) => pair.privateKey);
  return new SignJWT({ username: user.username })
    .setProtectedHeader({ alg: "ES256" })
    .setSubject(user.id)
    .setAudience(rpID)
    .setIssuedAt()
    .setExpirationTime(`${sessionTtlSeconds}s`)
    .sign(await signingKey);
}

type Body = Record<string, unknown>;
type PeerEnv = { ORIGIN: string };
const routes: Record<string, (body: Body, origin: string) => Promise<[number, unknown]>> = {
  async "/api/v1/registration/challenge"(body) {
    const username = String(body.username ?? "")
      .trim()
      .toLowerCase();
    if (!username) throw new HttpError(400, "VALIDATION_ERROR");
    if (usersByName.has(username)) throw new HttpError(409, "USERNAME_TAKEN");
    const userId = isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(16)));
    const options = await generateRegistrationOptions({
      rpName: "Peer",
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

  async "/api/v1/registration/verify"(body, origin) {
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
    if (!verification.verified || !info) throw new HttpError(400, "REGISTRATION_FAILED");
    const username = pending.username ?? "";
    if (usersByName.has(username) || credentialsById.has(info.credential.id)) throw new HttpError(409, "CONFLICT");
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

  async "/api/v1/authentication/verify"(body, origin) {
    const response = body.credential as AuthenticationResponseJSON;
    const { challenge, pending } = takeChallenge(response.response.clientDataJSON, "authentication");
    const credential = credentialsById.get(response.id);
    const user = credential && usersById.get(credential.userId);
    if (!credential || !user || (pending.userId && pending.userId !== user.id)) {
      throw new HttpError(401, "AUTHENTICATION_FAILED");
    }
    const verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      requireUserVerification: false,
      credential: { id: credential.id, publicKey: credential.publicKey, counter: credential.counter },
    }).catch(() => ({ verified: false as const, authenticationInfo: undefined }));
    if (!verification.verified || !verification.authenticationInfo) throw new HttpError(401, "AUTHENTICATION_FAILED");
    credential.counter = verification.authenticationInfo.newCounter;
    const token = await issueToken(user);
    return [
      200,
      { userId: user.id, username: user.username, credentialId: credential.id, signCount: credential.counter, token },
    ];
  },
};

const answer = (status: number, body: object) =>
  Response.json({ ...body, timestamp: new Date().toISOString() }, { status });

export default {
  async fetch(request: Request, env: PeerEnv): Promise<Response> {
    const { pathname } = new URL(request.url);
    try {
      if (request.method === "GET" && pathname === "/api/v1/health") return answer(200, { status: "ok", data: {} });
      const route = request.method === "POST" ? routes[pathname] : undefined;
      if (!route) throw new HttpError(404, "NOT_FOUND");
      const body = (await request.json().catch(() => {
        throw new HttpError(400, "INVALID_REQUEST");
      })) as Body;
      const [status, data] = await route(body, env.ORIGIN);
      return answer(status, { status: "ok", data });
    } catch (error) {
      const known = error instanceof HttpError ? error : new HttpError(500, "INTERNAL_ERROR");
      return answer(known.status, { status: "error", error: { code: known.code } });
    }
  },
};
