// Signs up and signs in over plain HTTP against a running server, with the software
// authenticator from test/: `npm run smoke` (against `npm run dev`) or
// `npm run smoke -- https://passkeys.example.com https://app.example.com` (server, then origin).
import { SoftAuthenticator } from "../test/authenticator/soft-authenticator";

const server = process.argv[2] ?? "http://localhost:8787";
const origin = process.argv[3] ?? server;

async function call(path: string, body: unknown, token?: string) {
  const response = await fetch(new URL(path, server), {
    method: "POST",
    headers: { "content-type": "application/json", origin, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the smoke test passes options straight back to the authenticator.
  const json = (await response.json()) as { status: string; data?: any; error?: { code: string; message: string } };
  console.log(`${response.status} POST ${path}${json.error ? ` ${json.error.code}` : ""}`);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json.error)}`);
  return json.data;
}

const username = `smoke-${Date.now().toString(36)}`;
const authenticator = await SoftAuthenticator.create();

const creation = await call("/api/v1/registration/challenge", { username, displayName: "Smoke Test" });
const registered = await call("/api/v1/registration/verify", {
  credential: await authenticator.register(creation, { origin }),
});
console.log(`  signed up ${registered.username} (user ${registered.userId}, passkey ${registered.passkeyId})`);

for (const who of [username, undefined]) {
  const request = await call("/api/v1/authentication/challenge", who ? { username: who } : {});
  const signedIn = await call("/api/v1/authentication/verify", {
    credential: await authenticator.assert(request, { origin }),
  });
  console.log(
    `  signed in ${who ? "with username" : "usernameless"}: ${signedIn.username}, counter ${signedIn.signCount}`,
  );
}
console.log("smoke: ok");
