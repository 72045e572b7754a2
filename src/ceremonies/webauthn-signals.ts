/**
 * What the browser needs to call the WebAuthn Signal API (`PublicKeyCredential.signal*`), so
 * passkey providers stop offering passkeys the server no longer accepts and show current names.
 * Each entry is the method to call and the exact argument to pass it (docs/api-management.md
 * has the client snippet). All ids are base64url, as the Signal API takes them.
 */
export type WebAuthnSignal =
  | { method: "signalUnknownCredential"; options: { rpId: string; credentialId: string } }
  | {
      method: "signalAllAcceptedCredentials";
      options: { rpId: string; userId: string; allAcceptedCredentialIds: string[] };
    }
  | {
      method: "signalCurrentUserDetails";
      options: { rpId: string; userId: string; name: string; displayName: string };
    };

/** The credential is not (or no longer) accepted: the provider may hide or delete it. */
export function unknownCredential(rpId: string, credentialId: string): WebAuthnSignal {
  return { method: "signalUnknownCredential", options: { rpId, credentialId } };
}

/**
 * The complete list of the account's passkeys the server still holds; the provider may hide
 * the account's others. An empty list says the account has none (it was deleted).
 */
export function allAcceptedCredentials(rpId: string, userId: string, credentialIds: string[]): WebAuthnSignal {
  return { method: "signalAllAcceptedCredentials", options: { rpId, userId, allAcceptedCredentialIds: credentialIds } };
}

export function currentUserDetails(
  rpId: string,
  user: { id: string; username: string; displayName: string },
): WebAuthnSignal {
  return {
    method: "signalCurrentUserDetails",
    options: { rpId, userId: user.id, name: user.username, displayName: user.displayName },
  };
}
