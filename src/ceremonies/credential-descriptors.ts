import type { AuthenticatorTransport } from "@simplewebauthn/server";
import type { CredentialIdProtection } from "../crypto/credential-id-protection";
import { toBase64URL } from "../crypto/encoding";
import type { CredentialRow } from "../db/schema";

export type CredentialDescriptor = { id: string; transports?: AuthenticatorTransport[] };

/** The WebAuthn credential ids (base64url) of stored rows, opened from their ciphertexts. */
export function credentialIdsOf(rows: CredentialRow[], protection: CredentialIdProtection): Promise<string[]> {
  return Promise.all(
    rows.map(async (row) => toBase64URL(await protection.open(row.credentialIdEncrypted, row.credentialIdHash))),
  );
}

/** The ids browsers need in allow/excludeCredentials, with each passkey's transports. */
export async function describeCredentials(
  rows: CredentialRow[],
  protection: CredentialIdProtection,
): Promise<CredentialDescriptor[]> {
  const ids = await credentialIdsOf(rows, protection);
  return rows.map((row, i) => ({ id: ids[i] as string, transports: row.transports as AuthenticatorTransport[] }));
}
