import { isIPv4, isIPv6 } from 'node:net';

/** Failed admin credentials tolerated per client and window; the next attempt is refused (429). */
export const MAX_FAILURES = 10;
export const WINDOW_MS = 60_000;
/** Longest client key stored: addresses are shorter; anything longer came from an X-Forwarded-For someone wrote. */
export const MAX_KEY_LENGTH = 100;

/**
 * Seconds until a client may try a credential again, or 0 when it may try now.
 *
 * `failures`: when the client's failed attempts happened (epoch ms, any order; older ones are ignored).
 * Sliding window: a client may try while fewer than `max` of its failures are younger than `windowMs`;
 * with `max` or more it waits until the `max`-th newest leaves the window. Failures "in the future"
 * (another replica's clock a little ahead) count, but never make the wait longer than the window.
 */
export function retryAfterSeconds(failures: readonly number[], now: number, max = MAX_FAILURES, windowMs = WINDOW_MS): number {
  const recent = failures.filter((at) => at > now - windowMs).sort((a, b) => b - a);
  if (recent.length < max) return 0;
  const leavesWindowAt = recent[max - 1]! + windowMs;
  return Math.min(Math.ceil(windowMs / 1000), Math.max(1, Math.ceil((leavesWindowAt - now) / 1000)));
}

/**
 * What the throttle counts failures under, from the client address (`request.ip`). IPv4 (also
 * IPv4-mapped IPv6) as it is; IPv6 by its /64, because one host is routinely given a whole /64 and
 * could otherwise take a fresh address for every ten guesses. The audit log keeps the full address.
 */
export function throttleKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv4(address)) return address;
  if (isIPv6(address)) return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
  return address.slice(0, MAX_KEY_LENGTH);
}

/** The eight 16-bit groups of a valid IPv6 address, as lowercase hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const split = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [group];
          const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
        });
  const first = split(head);
  const last = tail === undefined ? [] : split(tail);
  const groups = [...first, ...Array<string>(8 - first.length - last.length).fill('0'), ...last];
  return groups.map((group) => parseInt(group, 16).toString(16));
}
