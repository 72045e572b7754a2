import {
  convertIPv4BinaryToString,
  convertIPv4MappedIPv6ToIPv4,
  convertIPv4ToBinary,
  convertIPv6BinaryToString,
  convertIPv6ToBinary,
  distinctRemoteAddr,
  isIPv4MappedIPv6,
} from "hono/utils/ipaddr";

/**
 * The bucket every request without a usable `CF-Connecting-IP` shares. On Cloudflare the
 * header is always set (and overwritten if a client sends its own); `wrangler dev` sets it
 * from the socket; it is missing for calls through the test harness or a service binding.
 * One shared bucket with the normal limit means leaving the header out never buys more.
 */
export const UNKNOWN_CLIENT = "unknown";

/**
 * What one client is, for rate limiting: an IPv4 address, or the /64 an IPv6 address is in
 * (one subscriber usually gets a whole /64, so per-address buckets would be free to rotate).
 * IPv4-mapped IPv6 addresses count as their IPv4 address.
 */
export function clientKey(connectingIp: string | undefined): string {
  return clientOf(connectingIp).key;
}

export type Client = {
  /** The address (IPv4) or /64 (IPv6), as clientKey names it. */
  key: string;
  /**
   * For IPv6, the /48 the /64 is in: a site that holds a /48 has 65,536 /64s, so it is counted
   * as a whole too (with a larger budget). Null for IPv4 and the shared unknown bucket.
   */
  network: string | null;
};

export function clientOf(connectingIp: string | undefined): Client {
  const address = connectingIp?.trim() ?? "";
  // Parsing goes through BigInt arithmetic, which the bench's CPU profile shows at a few
  // percent of a ceremony; a client's requests come in runs (options, then verify), so the
  // isolate remembers its most recent addresses.
  const known = recentClients.get(address);
  if (known !== undefined) return known;
  const client = parse(address);
  if (recentClients.size >= RECENT_CLIENTS_LIMIT) recentClients.delete(recentClients.keys().next().value as string);
  recentClients.set(address, client);
  return client;
}

// Per-isolate cache of parsed addresses (see clientOf): bounded, the oldest dropped first; a
// parse depends on the address alone, so an entry is never stale.
const RECENT_CLIENTS_LIMIT = 4096;
const recentClients = new Map<string, Client>();

function parse(address: string): Client {
  try {
    const kind = distinctRemoteAddr(address);
    if (kind === "IPv4")
      return { key: `ip4:${convertIPv4BinaryToString(convertIPv4ToBinary(address))}`, network: null };
    if (kind === "IPv6") {
      const binary = convertIPv6ToBinary(address);
      if (isIPv4MappedIPv6(binary)) {
        return { key: `ip4:${convertIPv4BinaryToString(convertIPv4MappedIPv6ToIPv4(binary))}`, network: null };
      }
      const prefix = (length: bigint) => convertIPv6BinaryToString((binary >> (128n - length)) << (128n - length));
      return { key: `ip6:${prefix(64n)}/64`, network: `ip6:${prefix(48n)}/48` };
    }
  } catch {
    // Not an address: falls through to the shared bucket.
  }
  return { key: UNKNOWN_CLIENT, network: null };
}
