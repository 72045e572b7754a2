import type { AuthenticatorTransport } from "@simplewebauthn/server";
import type { CredentialIdProtection } from "../crypto/credential-id-protection";
import { toBase64URL } from "../crypto/encoding";
import type { CredentialRow } from "../db/schema";

export type CredentialDescriptor = { id: string; transports?: AuthenticatorTransport[] };

/** Opens the stored ciphertexts into the ids browsers need in allow/excludeCredentials. */
export async function describeCredentials(
  rows: CredentialRow[],
  protection: CredentialIdProtection,
): Promise<CredentialDescriptor[]> {
  return Promise.all(
    rows.map(async (row) => ({
      id: toBase64URL(await protection.open(row.credentialIdEncrypted, row.credentialIdHash)),
      transports: row.transports as AuthenticatorTransport[],
    })),
  );
}
