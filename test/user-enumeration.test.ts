import { env } from "cloudflare:workers";
import type { PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SoftAuthenticator } from "./authenticator/soft-authenticator";
import { type ApiResponse, api, authenticationOptions, ORIGIN, signIn, signUp, uniqueUsername } from "./support/api";

const transports = new Set(["ble", "cable", "hybrid", "internal", "nfc", "smart-card", "usb"]);

/** The value's structure with every leaf replaced by its type, arrays by their element shapes. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return [...new Set(value.map((item) => JSON.stringify(shape(item))))].sort();
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, item]) => [key, shape(item)]),
    );
  }
  return value === null ? "null" : typeof value;
}

const idLength = (id: string) => isoBase64URL.toBuffer(id).length;

function expectPlausibleAllowList(options: PublicKeyCredentialRequestOptionsJSON) {
  const list = options.allowCredentials ?? [];
  expect(list.length).toBeGreaterThanOrEqual(1);
  expect(list.length).toBeLessThanOrEqual(3);
  for (const descriptor of list) {
    expect(Object.keys(descriptor).sort()).toEqual(["id", "transports", "type"]);
    expect(descriptor.type).toBe("public-key");
    expect(descriptor.id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(idLength(descriptor.id)).toBeGreaterThanOrEqual(16);
    expect(idLength(descriptor.id)).toBeLessThanOrEqual(128);
    expect(descriptor.transports?.length).toBeGreaterThanOrEqual(1);
    for (const transport of descriptor.transports ?? []) expect(transports.has(transport)).toBe(true);
  }
}

/** A failure answer without the one field that differs per response. */
const failure = (response: ApiResponse) => ({
  status: response.status,
  contentType: response.headers.get("content-type"),
  body: { ...response.body, timestamp: undefined },
});

async function assertWithOptions(
  authenticator: SoftAuthenticator,
  options: PublicKeyCredentialRequestOptionsJSON,
  credentialId?: Uint8Array,
) {
  // A hand-made client can put any id in its response, whatever the options listed.
  const credential = await authenticator.assert(
    { ...options, allowCredentials: [] },
    { origin: ORIGIN, ...(credentialId ? { credentialId } : {}) },
  );
  return api("POST", "/api/v1/authentication/verify", { credential });
}

describe("sign-in options do not reveal whether a username exists", () => {
  it("answers a known and an unknown username with options of the same shape", async () => {
    const user = await signUp();
    const known = await authenticationOptions({ username: user.username });
    const unknown = await authenticationOptions({ username: uniqueUsername("nobody") });

    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect(shape(unknown.body)).toEqual(shape(known.body));
    expect([...unknown.headers.keys()].sort()).toEqual([...known.headers.keys()].sort());
    expectPlausibleAllowList(known.body.data);
    expectPlausibleAllowList(unknown.body.data);
    expect(unknown.body.data.rpId).toBe(known.body.data.rpId);
    expect(unknown.body.data.userVerification).toBe(known.body.data.userVerification);
    expect(unknown.body.data.timeout).toBe(known.body.data.timeout);
  });

  it("seals the state of a real and of a decoy ceremony into challenges of one length", async () => {
    // The challenge carries the ceremony's state encrypted (docs/security.md "Ceremony
    // challenges"); its length must not tell a real account's sign-in from the decoy answer.
    const user = await signUp();
    for (const userVerification of ["required", "preferred", "discouraged"] as const) {
      const known = await authenticationOptions({ username: user.username, userVerification });
      const unknown = await authenticationOptions({ username: uniqueUsername("nobody"), userVerification });
      expect(unknown.body.data.challenge.length).toBe(known.body.data.challenge.length);
    }
  });

  it("gives the same unknown name the same ids every time, however it is typed, with a fresh challenge", async () => {
    const name = uniqueUsername("Ghost");
    const first = await authenticationOptions({ username: name });
    const second = await authenticationOptions({ username: ` ${name.toUpperCase()} ` });
    expect(second.body.data.allowCredentials).toEqual(first.body.data.allowCredentials);
    expect(second.body.data.challenge).not.toBe(first.body.data.challenge);
  });

  it("gives different unknown names different ids, with the lengths and counts of real passkeys", async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => authenticationOptions({ username: uniqueUsername(`ghost${i}`) })),
    );
    const ids = answers.flatMap((answer) => answer.body.data.allowCredentials ?? []).map((d) => d.id);
    for (const answer of answers) expectPlausibleAllowList(answer.body.data);
    expect(new Set(ids).size).toBe(ids.length);
    // Authenticators differ in id length; decoys that all looked alike would stand out.
    expect(new Set(ids.map(idLength)).size).toBeGreaterThan(1);
    for (const length of ids.map(idLength)) expect([16, 20, 32, 64, 65]).toContain(length);
  });

  it("answers for an account whose passkeys are all disabled as for a name nobody has", async () => {
    const user = await signUp();
    await env.DB.prepare("UPDATE credentials SET is_active = 0 WHERE user_id = ?").bind(user.userId).run();
    const options = await authenticationOptions({ username: user.username });
    expect(options.status).toBe(200);
    expectPlausibleAllowList(options.body.data);
    expect(options.body.data.allowCredentials?.map((d) => d.id)).not.toContain(
      user.authenticator.credentialIdBase64URL,
    );
  });
});

describe("sign-in verification fails the same way whatever check failed", () => {
  afterEach(() => vi.restoreAllMocks());

  it("refuses a decoy id exactly as it refuses a real passkey with a bad signature", async () => {
    const user = await signUp();
    const badSignature = await signIn(user.authenticator, user.username, { corruptSignature: true });

    const decoyOptions = await authenticationOptions({ username: uniqueUsername("nobody") });
    const decoyId = isoBase64URL.toBuffer(decoyOptions.body.data.allowCredentials?.[0]?.id ?? "");
    const attacker = await SoftAuthenticator.create();
    const decoy = await assertWithOptions(attacker, decoyOptions.body.data, decoyId);

    expect(badSignature.status).toBe(401);
    expect(badSignature.body.error).toEqual({ code: "AUTHENTICATION_FAILED", message: "Authentication failed" });
    expect(failure(decoy)).toEqual(failure(badSignature));
  });

  it("refuses a never-registered passkey in a usernameless sign-in the same way, plus only the Signal API hint echoing its own id", async () => {
    const user = await signUp();
    const badSignature = await signIn(user.authenticator, undefined, { corruptSignature: true });
    const stranger = await SoftAuthenticator.create();
    const unknown = await assertWithOptions(stranger, (await authenticationOptions({})).body.data);
    // An id this server never issued (not even as a decoy) is hinted as unknown
    // (docs/api-management.md "Signal API"); the hint holds nothing the client did not send.
    const { details, ...error } = unknown.body.error;
    expect(details).toEqual({
      signals: [
        {
          method: "signalUnknownCredential",
          options: { rpId: "localhost", credentialId: stranger.credentialIdBase64URL },
        },
      ],
    });
    expect(failure({ ...unknown, body: { ...unknown.body, error } })).toEqual(failure(badSignature));
  });

  it("refuses one's own valid passkey in a ceremony for another name, whether or not that name exists", async () => {
    const attacker = await signUp();
    const victim = await signUp();
    const forKnown = await assertWithOptions(
      attacker.authenticator,
      (await authenticationOptions({ username: victim.username })).body.data,
    );
    const forUnknown = await assertWithOptions(
      attacker.authenticator,
      (await authenticationOptions({ username: uniqueUsername("nobody") })).body.data,
    );
    expect(forKnown.status).toBe(401);
    expect(failure(forUnknown)).toEqual(failure(forKnown));
  });

  it("keeps the reason in the security log only", async () => {
    const warn = vi.spyOn(console, "warn");
    const options = await authenticationOptions({ username: uniqueUsername("nobody") });
    const decoyId = isoBase64URL.toBuffer(options.body.data.allowCredentials?.[0]?.id ?? "");
    const response = await assertWithOptions(await SoftAuthenticator.create(), options.body.data, decoyId);

    const events = warn.mock.calls
      .map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)
      .filter((line) => line.type === "security_event");
    expect(events).toContainEqual(
      expect.objectContaining({ event: "authentication_attempt", outcome: "failure", reason: "unknown_credential" }),
    );
    expect(JSON.stringify(response.body)).not.toContain("unknown_credential");
  });
});
