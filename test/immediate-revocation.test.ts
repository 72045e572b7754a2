import { describe, expect, it } from "vitest";
import { api, assertion, bearer, signUp } from "./support/api";
import { addPasskey, admin, watchSecurityEvents } from "./support/management";

// Options may be answered from a read replica (issue 10), but every decision is made on the
// primary: a passkey or account disabled after the options were issued is refused at once.

async function verifyRefusedFor(reason: string, credential: unknown) {
  const events = watchSecurityEvents();
  const response = await api("POST", "/api/v1/authentication/verify", { credential });
  expect(response.status).toBe(401);
  expect(response.body.error.code).toBe("AUTHENTICATION_FAILED");
  expect(events().filter((event) => event.event === "authentication_attempt")).toEqual([
    expect.objectContaining({ outcome: "failure", reason }),
  ]);
}

describe("revocation takes effect at once", () => {
  it("refuses a passkey disabled after its sign-in options were issued", async () => {
    const user = await signUp();
    const credential = await assertion(user.authenticator, user.username);
    const disabled = await api("PATCH", `/api/v1/admin/credentials/${user.passkeyId}`, { active: false }, admin);
    expect(disabled.status).toBe(200);
    await verifyRefusedFor("credential_disabled", credential);
  });

  it("refuses an account disabled after its sign-in options were issued", async () => {
    const user = await signUp();
    const credential = await assertion(user.authenticator);
    const disabled = await api("PATCH", `/api/v1/admin/users/${user.userId}`, { active: false }, admin);
    expect(disabled.status).toBe(200);
    await verifyRefusedFor("user_disabled", credential);
  });

  it("refuses a passkey its owner removed after the options were issued, and ends its session", async () => {
    const user = await signUp();
    const other = await addPasskey(user);
    const credential = await assertion(user.authenticator, user.username);
    const removed = await api("DELETE", `/api/v1/credentials/${user.passkeyId}`, undefined, bearer(user.token));
    expect(removed.status).toBe(200);
    await verifyRefusedFor("unknown_credential", credential);
    expect((await api("GET", "/api/v1/me", undefined, bearer(user.token))).status).toBe(401);
    expect(other.passkeyId).toBeTruthy();
  });
});
