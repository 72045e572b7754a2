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
  const address = connectingIp?.trim() ?? "";
  // Parsing goes through BigInt arithmetic, which the bench's CPU profile shows at a few
  // percent of a ceremony; a client's requests come in runs (options, then verify), so the
  // isolate remembers its most recent addresses.
  const known = recentKeys.get(address);
  if (known !== undefined) return known;
  const key = keyOf(address);
  if (recentKeys.size >= RECENT_KEYS_LIMIT) recentKeys.delete(recentKeys.keys().next().value as string);
  recentKeys.set(address, key);
  return key;
}

const RECENT_KEYS_LIMIT = 4096;
const recentKeys = new Map<string, string>();

function keyOf(address: string): string {
  try {
    const kind = distinctRemoteAddr(address);
    if (kind === "IPv4") return `ip4:${convertIPv4BinaryToString(convertIPv4ToBinary(address))}`;
    if (kind === "IPv6") {
      const binary = convertIPv6ToBinary(address);
      if (isIPv4MappedIPv6(binary)) return `ip4:${convertIPv4BinaryToString(convertIPv4MappedIPv6ToIPv4(binary))}`;
      const prefix = (binary >> 64n) << 64n;
      return `ip6:${convertIPv6BinaryToString(prefix)}/64`;
    }
  } catch {
    // Not an address: falls through to the shared bucket.
  }
  return UNKNOWN_CLIENT;
}
