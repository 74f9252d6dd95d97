/**
 * IPv4 arithmetic and the address plan.
 *
 * - Environment uplinks: 10.213.0.0/16 cut into /30s. Slot n owns 10.213.0.0 + 4n: the host end of
 *   the veth is +1, the environment end +2. 16 384 slots.
 * - Peer links (inside netns only, never on the host): 10.214.0.0/16 cut into /30s, one per pair.
 *
 * Both ranges are checked against the host's routes before use (see `findRouteConflict`).
 */

/** The range of environment uplinks (one /30 per environment). */
export const UPLINK_RANGE = { base: '10.213.0.0', prefix: 16 } as const;
/** The range of peer links (one /30 per pair of peers). */
export const PEER_RANGE = { base: '10.214.0.0', prefix: 16 } as const;

/** Number of /30 slots in a /16. */
export const SLOTS_PER_RANGE = 1 << 14;

/** Parses a dotted IPv4 address into an unsigned 32-bit number; undefined when invalid. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

/** Formats an unsigned 32-bit number as dotted IPv4. */
export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (Math.floor(value / 2 ** shift) & 255).toString()).join('.');
}

/** True when `ip` lies in `base/prefix`. */
export function inCidr(ip: string, base: string, prefix: number): boolean {
  const a = parseIpv4(ip);
  const b = parseIpv4(base);
  if (a === undefined || b === undefined) return false;
  const size = 2 ** (32 - prefix);
  return Math.floor(a / size) === Math.floor(b / size);
}

/** True when two CIDR blocks overlap. */
export function cidrsOverlap(a: string, aPrefix: number, b: string, bPrefix: number): boolean {
  const shorter = Math.min(aPrefix, bPrefix);
  return inCidr(a, b, shorter) && inCidr(b, a, shorter);
}

/** The addresses of one /30 link. */
export interface LinkAddresses {
  readonly slot: number;
  /** Network address of the /30. */
  readonly network: string;
  /** The host end (or the lower peer). */
  readonly first: string;
  /** The environment end (or the higher peer). */
  readonly second: string;
  readonly prefix: 30;
}

/** Addresses of slot `slot` within a /16 range. */
export function linkAddresses(
  range: { base: string; prefix: number },
  slot: number,
): LinkAddresses {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS_PER_RANGE) {
    throw new RangeError(`slot ${slot} is outside 0..${SLOTS_PER_RANGE - 1}`);
  }
  const base = (parseIpv4(range.base) ?? 0) + slot * 4;
  return {
    slot,
    network: formatIpv4(base),
    first: formatIpv4(base + 1),
    second: formatIpv4(base + 2),
    prefix: 30,
  };
}

/** One route of the host (`ip -j route` fields we use). */
export interface HostRoute {
  readonly dst: string;
  readonly dev?: string;
  /** `link` for networks the host is directly attached to (its LANs). */
  readonly scope?: string;
}

/**
 * The networks this host is directly attached to (scope link, not VirtOS devices) as CIDRs. In
 * `internet` mode they are blocked: other machines on the host's LAN are not "the internet".
 */
export function lanCidrs(routes: readonly HostRoute[]): string[] {
  const out: string[] = [];
  for (const r of routes) {
    if (r.scope !== 'link' || r.dst === 'default' || r.dev?.startsWith('virtos-')) continue;
    const [addr, len] = r.dst.split('/');
    if (!addr || parseIpv4(addr) === undefined) continue;
    out.push(`${addr}/${len ?? '32'}`);
  }
  return out;
}

/**
 * Returns the first host route that overlaps `range` and is not ours (not on a `virtos-` device),
 * or undefined. A conflict means the address plan would shadow a real network of this machine.
 */
export function findRouteConflict(
  routes: readonly HostRoute[],
  range: { base: string; prefix: number },
): HostRoute | undefined {
  return routes.find((route) => {
    if (route.dst === 'default' || route.dev?.startsWith('virtos-')) return false;
    const [addr, len] = route.dst.split('/');
    if (!addr || parseIpv4(addr) === undefined) return false;
    return cidrsOverlap(addr, len === undefined ? 32 : Number(len), range.base, range.prefix);
  });
}

/**
 * Picks a free slot: starts at a position derived from the short id (so parallel managers rarely
 * probe the same slots) and walks forward, skipping slots `isTaken` reports.
 */
export async function pickSlot(
  short: string,
  isTaken: (slot: number) => Promise<boolean> | boolean,
): Promise<number | undefined> {
  const start = parseInt(short.slice(0, 4), 16) % SLOTS_PER_RANGE;
  for (let i = 0; i < SLOTS_PER_RANGE; i++) {
    const slot = (start + i) % SLOTS_PER_RANGE;
    // Slot 0 holds the network address of the whole range; keep it unused for clarity.
    if (slot === 0) continue;
    if (!(await isTaken(slot))) return slot;
  }
  return undefined;
}

/** Address ranges an environment must never reach through the host (beyond its own uplink). */
export const NEVER_REACHABLE_V4 = [
  '0.0.0.0/8',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '224.0.0.0/4',
  '240.0.0.0/4',
] as const;

/** Private ranges blocked in `internet` mode: the LAN is not "the internet". */
export const PRIVATE_V4 = [
  '10.0.0.0/8',
  '100.64.0.0/10',
  '172.16.0.0/12',
  '192.168.0.0/16',
] as const;

/** True when `ip` is in any of the CIDR strings. */
export function inAnyCidr(ip: string, cidrs: readonly string[]): boolean {
  return cidrs.some((c) => {
    const [base, len] = c.split('/');
    return base !== undefined && inCidr(ip, base, len === undefined ? 32 : Number(len));
  });
}
