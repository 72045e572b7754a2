import type { Config } from "../config/config";

export type RelatedOriginsDocument = { origins: string[] };

/**
 * The related origins document (WebAuthn Level 3 "Related Origin Requests") for
 * `https://<RP_ID>/.well-known/webauthn`, or null when no browser would ask for it.
 *
 * A browser accepts a passkey request from a page whose host is the RP ID or under it. For any
 * other page (another registrable domain such as example.co.uk, or a sibling such as
 * www.example.com when the RP ID is login.example.com) it fetches this document and goes on only
 * if the page's origin is listed. So it is served exactly when one of RP_ORIGINS' web origins is
 * outside the RP ID; that needs no public suffix list. Android origins (`android:apk-key-hash:…`)
 * are checked by the app's Digital Asset Links, not here, and are left out.
 *
 * Browsers count at most five distinct registrable-domain labels ("example" in example.com and
 * example.de is one) and ignore origins beyond them; without a public suffix list that limit is
 * documented (docs/api-management.md), not checked.
 */
export function relatedOriginsDocument(config: Pick<Config, "rpId" | "origins">): RelatedOriginsDocument | null {
  const web = config.origins.filter((origin) => !origin.startsWith("android:"));
  const within = (origin: string) => {
    const host = new URL(origin).hostname;
    return host === config.rpId || host.endsWith(`.${config.rpId}`);
  };
  return web.every(within) ? null : { origins: web };
}
