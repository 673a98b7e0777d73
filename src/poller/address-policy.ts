/**
 * Which network addresses and ports a descriptor fetch may reach (DESIGN.md, "Detection rules"):
 * a fetcher of user-supplied URLs refuses private, loopback, link-local and every other
 * non-public range unless the allow-list (config) permits them; ports 80, 443 and 8080 only
 * (Atlassian's Connect descriptor documentation). Pure.
 */
import ipaddr from 'ipaddr.js';

/** Ports a descriptor URL may use. @defaultValue [80, 443, 8080] */
export const DEFAULT_ALLOWED_PORTS: readonly number[] = [80, 443, 8080];

/** A parsed allow-list: CIDR ranges that may be reached although they are not public. */
export type AllowList = readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];

/**
 * Parses CIDRs (`127.0.0.1/32`, `10.0.0.0/8`, `::1/128`); a bare address means just itself.
 * @returns the list and the entries that did not parse.
 */
export function parseAllowList(entries: readonly string[]): { list: AllowList; invalid: string[] } {
  const list: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  const invalid: string[] = [];
  for (const raw of entries.map((e) => e.trim()).filter(Boolean)) {
    try {
      if (raw.includes('/')) list.push(ipaddr.parseCIDR(raw));
      else {
        const a = ipaddr.parse(raw);
        list.push([a, a.kind() === 'ipv4' ? 32 : 128]);
      }
    } catch {
      invalid.push(raw);
    }
  }
  return { list, invalid };
}

/**
 * Decides whether `address` (an IP literal) may be connected to: public unicast addresses yes,
 * anything else (private, loopback, link-local, unique-local, CGNAT, multicast, reserved,
 * unspecified…) only when inside an allow-list range. IPv4-mapped IPv6 is judged as IPv4.
 * @returns null when allowed, else the range name that refused it (e.g. `loopback`).
 */
export function refusedRange(address: string, allow: AllowList): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.process(address.replace(/^\[|\]$/g, ''));
  } catch {
    return 'invalid';
  }
  for (const [net, bits] of allow) {
    if (net.kind() === ip.kind() && ip.match(net, bits)) return null;
  }
  const range = ip.range();
  return range === 'unicast' ? null : range;
}

/** True when `hostname` is an IP literal (v4, or v6 with or without brackets). */
export function isIpLiteral(hostname: string): boolean {
  return ipaddr.isValid(hostname.replace(/^\[|\]$/g, ''));
}

/** The port a URL connects to (its explicit port, else 80/443 by protocol). */
export function effectivePort(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}
