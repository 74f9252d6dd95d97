/**
 * Kernel object names. Interface names are limited to 15 bytes (IFNAMSIZ - 1), so every object of an
 * environment is named `virtos-` + an 8-hex short id derived from the environment id. Deriving it with
 * a hash (not truncating) keeps ids that share a prefix apart.
 */
import { createHash } from 'node:crypto';

/** The prefix of every kernel object and table the network manager creates. */
export const NAME_PREFIX = 'virtos-';

/** Length of the short id, in hex characters: `virtos-` (7) + 8 = 15, the interface-name limit. */
export const SHORT_ID_LENGTH = 8;

/** The 8-hex short id of an environment id (first 32 bits of its SHA-256). */
export function shortId(envId: string): string {
  return createHash('sha256').update(envId).digest('hex').slice(0, SHORT_ID_LENGTH);
}

/** The names used for one environment. */
export interface EnvNames {
  readonly short: string;
  /** Network namespace, as in `ip netns list` and `/run/netns/<netns>`. */
  readonly netns: string;
  /** Host end of the environment's veth (also the name of the host nftables table). */
  readonly hostVeth: string;
  /** The host-side nftables table (family inet). */
  readonly hostTable: string;
}

/** Names of the kernel objects of an environment. */
export function envNames(envId: string): EnvNames {
  const short = shortId(envId);
  const name = NAME_PREFIX + short;
  return { short, netns: name, hostVeth: name, hostTable: name };
}

/** Name of the environment's end of its veth inside its netns. */
export const ENV_VETH = 'eth0';

/** Prefix of peer links inside a netns; `vp-` + the peer's short id (11 characters). */
export const PEER_LINK_PREFIX = 'vp-';

/** Name of the nftables table inside every environment netns. */
export const NETNS_TABLE = 'virtos';

/** True for names this module could have made (used to refuse touching anything else). */
export function isVirtosName(name: string): boolean {
  return new RegExp(`^${NAME_PREFIX}[0-9a-f]{${SHORT_ID_LENGTH}}$`).test(name);
}
