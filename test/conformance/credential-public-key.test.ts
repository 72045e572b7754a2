import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cbor, type KeyAlgorithm } from "../authenticator/cose";
import { api, registrationOptions, uniqueUsername } from "../support/api";
import { captureLogLines } from "../support/log-lines";
import { bindingClient, expectFailed } from "./binding-client";
import { craftedRegistration, credentialKey } from "./crafted-attestation";

// A credential public key is checked against the algorithm it claims (Issue 11 item 7): with
// `none` attestation nothing else ever imports it at registration, so a weak or mislabelled
// key would be stored and only fail, or verify weakly, at sign-in.

const binding = bindingClient({ ATTESTATION_TRUST: "none" });
const ok = { status: "ok", errorMessage: "" };

let lines: string[] = [];
beforeEach(() => {
  lines = captureLogLines();
});
afterEach(() => vi.restoreAllMocks());

const failureReasons = () =>
  lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((r) => r.type === "security_event" && r.event === "registration_attempt" && r.outcome === "failure")
    .map((r) => r.reason);

const random = (length: number) => crypto.getRandomValues(new Uint8Array(length));
/** A modulus-shaped number: top bit set (full length) and odd. */
function modulus(bits: number) {
  const n = random(bits / 8);
  n[0] = (n[0] ?? 0) | 0x80;
  n[n.length - 1] = (n[n.length - 1] ?? 0) | 1;
  return n;
}
const F4 = new Uint8Array([1, 0, 1]);

const coseKey = (entries: [number, number | Uint8Array][]) => cbor(new Map(entries));
/** An EC2 key (kty 2) claiming algorithm `alg` on curve `crv`. */
const ec2Key = (alg: number, crv: number, x: Uint8Array, y: Uint8Array) =>
  coseKey([
    [1, 2],
    [3, alg],
    [-1, crv],
    [-2, x],
    [-3, y],
  ]);
const jwkOf = async (algorithm: KeyAlgorithm) => {
  const { keys } = await credentialKey(algorithm);
  const jwk = await crypto.subtle.exportKey("jwk", keys.publicKey);
  if (jwk instanceof ArrayBuffer) throw new Error("expected a JWK");
  return jwk;
};
const b = (value: string | undefined) => isoBase64URL.toBuffer(value ?? "");

/** A `none` registration whose authenticator data carries `publicKeyCOSE`. */
async function registerKey(publicKeyCOSE: Uint8Array) {
  const credential = { ...(await credentialKey()), publicKeyCOSE };
  return binding.registerWith((options) =>
    craftedRegistration(options, { fmt: "none", aaguid: new Uint8Array(16), credential, attStmt: async () => ({}) }),
  );
}

describe("credential public keys refused", () => {
  it.each<[string, () => Promise<Uint8Array>, string]>([
    [
      "an RSA-512 key labelled RS256",
      async () =>
        coseKey([
          [1, 3],
          [3, -257],
          [-1, modulus(512)],
          [-2, F4],
        ]),
      "rsa_modulus_too_small",
    ],
    [
      "an RSA-1024 key labelled PS256",
      async () =>
        coseKey([
          [1, 3],
          [3, -37],
          [-1, modulus(1024)],
          [-2, F4],
        ]),
      "rsa_modulus_too_small",
    ],
    [
      "an RSA-2040 key (just under 2048 bits) labelled RS1",
      async () =>
        coseKey([
          [1, 3],
          [3, -65535],
          [-1, modulus(2040)],
          [-2, F4],
        ]),
      "rsa_modulus_too_small",
    ],
    [
      "an RSA key of absurd size (16384 bits)",
      async () =>
        coseKey([
          [1, 3],
          [3, -257],
          [-1, modulus(16384)],
          [-2, F4],
        ]),
      "too_large",
    ],
    [
      "an RSA key with an even exponent",
      async () =>
        coseKey([
          [1, 3],
          [3, -257],
          [-1, modulus(2048)],
          [-2, new Uint8Array([1, 0, 0])],
        ]),
      "rsa_exponent",
    ],
    [
      "an RSA key with exponent 1",
      async () =>
        coseKey([
          [1, 3],
          [3, -257],
          [-1, modulus(2048)],
          [-2, new Uint8Array([1])],
        ]),
      "rsa_exponent",
    ],
    [
      "a P-384 key labelled ES256 (crv P-384)",
      async () => {
        const jwk = await jwkOf("ES384");
        return ec2Key(-7, 2, b(jwk.x), b(jwk.y));
      },
      "curve_not_algorithm",
    ],
    [
      "a P-384 key labelled ES256 (crv claimed P-256)",
      async () => {
        const jwk = await jwkOf("ES384");
        return ec2Key(-7, 1, b(jwk.x), b(jwk.y));
      },
      "coordinate_size",
    ],
    [
      "a P-256 key labelled ES384",
      async () => {
        const jwk = await jwkOf("ES256");
        return ec2Key(-35, 1, b(jwk.x), b(jwk.y));
      },
      "curve_not_algorithm",
    ],
    [
      "a P-256 point not on the curve",
      async () => {
        const jwk = await jwkOf("ES256");
        const y = b(jwk.y);
        y[31] = (y[31] ?? 0) ^ 0x01;
        return ec2Key(-7, 1, b(jwk.x), y);
      },
      "point_not_on_curve",
    ],
    [
      "a P-521 point not on the curve",
      async () => {
        const jwk = await jwkOf("ES512");
        const x = b(jwk.x);
        x[65] = (x[65] ?? 0) ^ 0x01;
        return ec2Key(-36, 3, x, b(jwk.y));
      },
      "point_not_on_curve",
    ],
    [
      "an EC2 key labelled RS256",
      async () => {
        const jwk = await jwkOf("ES256");
        return ec2Key(-257, 1, b(jwk.x), b(jwk.y));
      },
      "kty_not_rsa",
    ],
    [
      "an RSA key labelled ES256",
      async () =>
        coseKey([
          [1, 3],
          [3, -7],
          [-1, modulus(2048)],
          [-2, F4],
        ]),
      "kty_not_ec2",
    ],
    [
      "an Ed448-curve key labelled EdDSA",
      async () =>
        coseKey([
          [1, 1],
          [3, -8],
          [-1, 7],
          [-2, random(57)],
        ]),
      "curve_not_ed25519",
    ],
    [
      "an EC2 key carrying its private part (d)",
      async () => {
        const jwk = await jwkOf("ES256");
        return coseKey([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, b(jwk.x)],
          [-3, b(jwk.y)],
          [-4, random(32)],
        ]);
      },
      "label_-4",
    ],
    [
      "a key with an oversized kid",
      async () => {
        const jwk = await jwkOf("ES256");
        return coseKey([
          [1, 2],
          [2, random(600)],
          [3, -7],
          [-1, 1],
          [-2, b(jwk.x)],
          [-3, b(jwk.y)],
        ]);
      },
      "kid",
    ],
  ])("%s", async (_name, key, reason) => {
    const { result } = await registerKey(await key());
    expectFailed(result, expect);
    expect(result.body.errorMessage).toContain(`attestation_invalid:credential_key:${reason}`);
    expect(failureReasons()).toEqual([`attestation_invalid:credential_key:${reason}`]);
  });

  it("the native API refuses an RSA-512 key labelled RS256 too", async () => {
    const options = await registrationOptions({ username: uniqueUsername("weak-key"), displayName: "Weak Key" });
    const credential = {
      ...(await credentialKey()),
      publicKeyCOSE: coseKey([
        [1, 3],
        [3, -257],
        [-1, modulus(512)],
        [-2, F4],
      ]),
    };
    const { getClientExtensionResults: _, ...crafted } = await craftedRegistration(options.body.data, {
      fmt: "none",
      aaguid: new Uint8Array(16),
      credential,
      attStmt: async () => ({}),
    });
    const answer = await api("POST", "/api/v1/registration/verify", {
      credential: { ...crafted, clientExtensionResults: {} },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("REGISTRATION_FAILED");
    expect(failureReasons()).toEqual(["attestation_invalid:credential_key:rsa_modulus_too_small"]);
  });
});

describe("credential public keys accepted", () => {
  it.each<KeyAlgorithm>([
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "RS1",
  ])("a genuine %s key registers on the binding", async (algorithm) => {
    const { result } = await binding.register({ authenticatorOptions: { algorithm } });
    expect(result.body).toEqual(ok);
  });

  it("an RSA key of exactly 2048 bits with a made-up modulus registers (only its size and form are checked)", async () => {
    const { result } = await registerKey(
      coseKey([
        [1, 3],
        [3, -257],
        [-1, modulus(2048)],
        [-2, F4],
      ]),
    );
    expect(result.body).toEqual(ok);
  });
});
