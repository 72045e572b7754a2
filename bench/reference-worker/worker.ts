// Does `n` times one kind of work and answers when done; the bench times the request from
// outside (workerd's clocks stand still while code runs) and subtracts an empty request.
// The bench sends everything to /api/… (run_worker_first, like ours); only the query matters.
//
//   ?op=verify&alg=ES256|EdDSA|RS256&mode=webcrypto       crypto.subtle.verify, key imported once
//   ?op=verify&alg=…&mode=simplewebauthn                   verifySignature from a COSE key: decode,
//                                                          import and verify, as each assertion does
//   ?op=do-call      an RPC to an existing Durable Object that does nothing (the rate limiter's shape)
//   ?op=do-new       an RPC to a new Durable Object that stores a value and sets an alarm (ChallengeStore.put)
//   ?op=d1-read      an indexed SELECT of one row
//   ?op=d1-write     an INSERT of one row
//   anything else    nothing: the empty Worker
import { DurableObject } from "cloudflare:workers";
import { verifySignature } from "@simplewebauthn/server/helpers";
import { encodeCOSEPublicKey, generateKeyPair, sign } from "../../test/authenticator/cose";

type ReferenceEnv = { DB: D1Database; OBJECTS: DurableObjectNamespace<ReferenceObject> };

export class ReferenceObject extends DurableObject<ReferenceEnv> {
  nothing(): number {
    return 1;
  }

  async keep(value: { challenge: string; expiresAt: number }): Promise<void> {
    this.ctx.storage.kv.put("state", value);
    await this.ctx.storage.setAlarm(value.expiresAt);
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}

/** The algorithms passkeys use in practice. */
type ProbeAlgorithm = "ES256" | "EdDSA" | "RS256";

const verifyParams = {
  ES256: { name: "ECDSA", hash: "SHA-256" },
  EdDSA: { name: "Ed25519" },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
} as const;

type Fixture = {
  publicKey: CryptoKey;
  cosePublicKey: Uint8Array<ArrayBuffer>;
  data: Uint8Array<ArrayBuffer>;
  /** WebCrypto's own encoding (raw r|s for ECDSA). */
  rawSignature: ArrayBuffer;
  /** WebAuthn's encoding (DER for ECDSA). */
  webauthnSignature: Uint8Array<ArrayBuffer>;
};

const fixtures = new Map<ProbeAlgorithm, Promise<Fixture>>();

async function makeFixture(algorithm: ProbeAlgorithm): Promise<Fixture> {
  const keys = await generateKeyPair(algorithm);
  // What an assertion signs: 37 bytes of authenticator data and a SHA-256 of clientDataJSON.
  const data = crypto.getRandomValues(new Uint8Array(37 + 32));
  return {
    publicKey: keys.publicKey,
    cosePublicKey: await encodeCOSEPublicKey(algorithm, keys.publicKey),
    data,
    rawSignature: await crypto.subtle.sign(verifyParams[algorithm], keys.privateKey, data),
    webauthnSignature: await sign(algorithm, keys.privateKey, data),
  };
}

function fixture(algorithm: ProbeAlgorithm): Promise<Fixture> {
  let made = fixtures.get(algorithm);
  if (!made) {
    made = makeFixture(algorithm);
    fixtures.set(algorithm, made);
  }
  return made;
}

const isAlgorithm = (value: string | null): value is ProbeAlgorithm =>
  value === "ES256" || value === "EdDSA" || value === "RS256";

async function verifies(algorithm: ProbeAlgorithm, mode: string | null, n: number): Promise<Response | null> {
  const f = await fixture(algorithm);
  for (let i = 0; i < n; i++) {
    const valid =
      mode === "simplewebauthn"
        ? await verifySignature({ signature: f.webauthnSignature, data: f.data, credentialPublicKey: f.cosePublicKey })
        : await crypto.subtle.verify(verifyParams[algorithm], f.publicKey, f.rawSignature, f.data);
    if (!valid) return new Response(`${algorithm} ${mode}: signature did not verify`, { status: 500 });
  }
  return null;
}

let tableReady: Promise<unknown> | null = null;
const rows = (db: D1Database) => {
  tableReady ??= db.exec(
    "CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, owner TEXT NOT NULL, body TEXT NOT NULL); " +
      "INSERT OR IGNORE INTO rows VALUES ('probe', 'owner', 'a row like a credential');",
  );
  return tableReady;
};

export default {
  async fetch(request: Request, env: ReferenceEnv): Promise<Response> {
    const url = new URL(request.url);
    const op = url.searchParams.get("op");
    const n = Math.min(100_000, Math.max(0, Number(url.searchParams.get("n") ?? 0)));
    if (op === "verify") {
      const algorithm = url.searchParams.get("alg");
      if (!isAlgorithm(algorithm)) return new Response("unknown alg", { status: 400 });
      const failed = await verifies(algorithm, url.searchParams.get("mode"), n);
      if (failed) return failed;
    } else if (op === "do-call") {
      const stub = env.OBJECTS.get(env.OBJECTS.idFromName("existing"));
      for (let i = 0; i < n; i++) await stub.nothing();
    } else if (op === "do-new") {
      for (let i = 0; i < n; i++) {
        const challenge = crypto.randomUUID();
        await env.OBJECTS.get(env.OBJECTS.idFromName(challenge)).keep({ challenge, expiresAt: Date.now() + 300_000 });
      }
    } else if (op === "d1-read" || op === "d1-write") {
      await rows(env.DB);
      for (let i = 0; i < n; i++) {
        if (op === "d1-read") await env.DB.prepare("SELECT * FROM rows WHERE id = ?").bind("probe").first();
        else await env.DB.prepare("INSERT INTO rows VALUES (?, 'owner', 'a new row')").bind(crypto.randomUUID()).run();
      }
    }
    return Response.json({ op, n });
  },
};
