/**
 * nftables rulesets as text for `nft -f -`. Pure functions, so the exact rules are unit-tested and
 * documented. Every ruleset replaces its table atomically: `add table` + `delete table` + the new
 * table run in one nft transaction, so a re-applied ruleset never leaves a window without rules.
 *
 * Host tables are per environment (`inet virtos-<short>`) and only match packets entering or leaving
 * that environment's veth, so they never change how the host treats other traffic. The one shared
 * table, `inet virtos-guard`, exists only when the manager had to turn on IPv4 forwarding.
 */
import type { NetworkMode } from '@virtos/spec';

import { ENV_VETH, NETNS_TABLE, PEER_LINK_PREFIX } from './names.js';

/** The shared table that confines forwarding to VirtOS interfaces. */
export const GUARD_TABLE = 'virtos-guard';

/** Names and ports the host ruleset of one environment needs. */
export interface HostRulesInput {
  readonly mode: Exclude<NetworkMode, 'none'>;
  readonly table: string;
  /** Host end of the environment's veth. */
  readonly hostVeth: string;
  /** Address of the host end. */
  readonly hostAddress: string;
  /** Address of the environment end. */
  readonly envAddress: string;
  /** allowlist: upstream port -> local proxy port; and the DNS responder's port. */
  readonly proxy?: { readonly tcp: ReadonlyMap<number, number>; readonly dnsPort: number };
  /** tor: the client's TransPort and DNSPort, and the address it listens on (default: host end). */
  readonly tor?: {
    readonly transPort: number;
    readonly dnsPort: number;
    readonly address?: string;
  };
  /** internet: destinations to drop (CIDRs) and DNS servers to allow despite them. */
  readonly internet?: {
    readonly blocked: readonly string[];
    readonly dnsServers: readonly string[];
  };
}

const q = (name: string): string => JSON.stringify(name);

function wrapTable(family: string, table: string, chains: string[]): string {
  return [
    `add table ${family} ${table}`,
    `delete table ${family} ${table}`,
    `table ${family} ${table} {`,
    ...chains,
    `}`,
    '',
  ].join('\n');
}

function chain(name: string, head: string, rules: string[]): string {
  return [`  chain ${name} {`, `    ${head}`, ...rules.map((r) => `    ${r}`), `  }`].join('\n');
}

/** The host-side ruleset of one environment (see docs/network.md, "Rules"). */
export function hostRuleset(input: HostRulesInput): string {
  const v = q(input.hostVeth);
  const pre: string[] = [];
  const inRules: string[] = [];
  const fwd: string[] = [];
  const post: string[] = [];
  switch (input.mode) {
    case 'allowlist': {
      const proxy = input.proxy;
      if (!proxy) throw new Error('allowlist rules need the proxy ports');
      for (const [upstream, local] of proxy.tcp) {
        pre.push(`iifname ${v} tcp dport ${upstream} redirect to :${local}`);
      }
      pre.push(`iifname ${v} udp dport 53 redirect to :${proxy.dnsPort}`);
      const local = [...proxy.tcp.values()].join(', ');
      inRules.push(`iifname ${v} ip daddr ${input.hostAddress} tcp dport { ${local} } accept`);
      inRules.push(`iifname ${v} ip daddr ${input.hostAddress} udp dport ${proxy.dnsPort} accept`);
      inRules.push(`iifname ${v} drop`);
      fwd.push(`iifname ${v} drop`, `oifname ${v} drop`);
      break;
    }
    case 'tor': {
      const tor = input.tor;
      if (!tor) throw new Error('tor rules need the Tor ports');
      const target = tor.address ?? input.hostAddress;
      if (tor.address) {
        pre.push(`iifname ${v} meta l4proto tcp dnat ip to ${tor.address}:${tor.transPort}`);
        pre.push(`iifname ${v} udp dport 53 dnat ip to ${tor.address}:${tor.dnsPort}`);
      } else {
        pre.push(`iifname ${v} meta l4proto tcp redirect to :${tor.transPort}`);
        pre.push(`iifname ${v} udp dport 53 redirect to :${tor.dnsPort}`);
      }
      inRules.push(`iifname ${v} ip daddr ${target} tcp dport ${tor.transPort} accept`);
      inRules.push(`iifname ${v} ip daddr ${target} udp dport ${tor.dnsPort} accept`);
      inRules.push(`iifname ${v} drop`);
      fwd.push(`iifname ${v} drop`, `oifname ${v} drop`);
      break;
    }
    case 'internet': {
      const net = input.internet ?? { blocked: [], dnsServers: [] };
      // Nothing from the environment is delivered to the host itself: every local address of the
      // host (its LAN address, the veth's host end, 127.0.0.1) is handled by the input hook.
      inRules.push(`iifname ${v} drop`);
      if (net.dnsServers.length) {
        const dns = net.dnsServers.join(', ');
        fwd.push(`iifname ${v} ip daddr { ${dns} } meta l4proto { tcp, udp } th dport 53 accept`);
      }
      if (net.blocked.length) fwd.push(`iifname ${v} ip daddr { ${net.blocked.join(', ')} } drop`);
      fwd.push(`iifname ${v} meta nfproto ipv6 drop`);
      fwd.push(`iifname ${v} ip saddr != ${input.envAddress} drop`);
      fwd.push(`oifname ${v} ct state established,related accept`);
      fwd.push(`oifname ${v} drop`);
      post.push(`ip saddr ${input.envAddress} oifname != ${v} masquerade`);
      break;
    }
  }
  const chains = [
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', pre),
    chain('input', 'type filter hook input priority filter; policy accept;', inRules),
    chain('forward', 'type filter hook forward priority filter; policy accept;', fwd),
  ];
  if (post.length) {
    chains.push(
      chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', post),
    );
  }
  return wrapTable('inet', input.table, chains);
}

/**
 * The ruleset inside the environment's netns: default drop both ways, loopback and peer links open,
 * and on the uplink only what the mode needs. The environment has no CAP_NET_ADMIN, so it cannot
 * change these rules; they are a second wall behind the host rules.
 */
export function netnsRuleset(mode: NetworkMode): string {
  const up = q(ENV_VETH);
  const peers = q(`${PEER_LINK_PREFIX}*`);
  const out = [`oifname "lo" accept`, `oifname ${peers} accept`];
  switch (mode) {
    case 'allowlist':
      out.push(`oifname ${up} tcp dport { 80, 443 } accept`, `oifname ${up} udp dport 53 accept`);
      break;
    case 'tor':
      out.push(`oifname ${up} meta l4proto tcp accept`, `oifname ${up} udp dport 53 accept`);
      break;
    case 'internet':
      out.push(`oifname ${up} meta nfproto ipv4 accept`);
      break;
    case 'none':
      break;
  }
  const inRules = [
    `iifname "lo" accept`,
    `iifname ${peers} accept`,
    `ct state established,related accept`,
  ];
  return wrapTable('inet', NETNS_TABLE, [
    chain('output', 'type filter hook output priority filter; policy drop;', out),
    chain('input', 'type filter hook input priority filter; policy drop;', inRules),
  ]);
}

/**
 * The guard installed when the manager turns on IPv4 forwarding on a host that had it off: only
 * packets entering or leaving a VirtOS interface may be forwarded, so the host does not start
 * routing between its other interfaces.
 */
export function guardRuleset(): string {
  return wrapTable('inet', GUARD_TABLE, [
    chain('forward', 'type filter hook forward priority filter; policy accept;', [
      `iifname != "virtos-*" oifname != "virtos-*" drop`,
    ]),
  ]);
}
