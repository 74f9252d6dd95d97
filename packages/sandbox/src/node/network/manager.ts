/**
 * The network manager: gives every environment its own network namespace and applies its network
 * mode from the host side, before the container starts (the container has no capabilities, so it
 * can change nothing of this). See docs/network.md for the address plan and the rules.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Logger } from '@virtos/core';
import { nullLogger, throwIfAborted, VirtosError } from '@virtos/core';
import type { NetworkMode, NetworkSpec } from '@virtos/spec';

import {
  NEVER_REACHABLE_V4,
  PEER_RANGE,
  PRIVATE_V4,
  SLOTS_PER_RANGE,
  UPLINK_RANGE,
  findRouteConflict,
  inCidr,
  lanCidrs,
  linkAddresses,
  parseIpv4,
  pickSlot,
  type HostRoute,
  type LinkAddresses,
} from './addresses.js';
import { startDnsResponder, type DnsResponder } from './dns.js';
import { createDomainMatcher } from './domain-match.js';
import { startEgressProxy, type EgressProxy, type Resolver } from './egress-proxy.js';
import { NetworkErrors } from './errors.js';
import { execRunner, type CommandRunner } from './exec.js';
import { ENV_VETH, PEER_LINK_PREFIX, envNames, type EnvNames } from './names.js';
import { GUARD_TABLE, guardRuleset, hostRuleset, netnsRuleset } from './nft-rules.js';
import { readRecords, removeRecord, writeRecord, type AttachmentRecord } from './state.js';

/** Where a Tor client listens for environments in `tor` mode. */
export interface TorEndpoint {
  /** TransPort (transparent TCP proxy) of the Tor client. */
  readonly transPort: number;
  /** DNSPort of the Tor client (UDP). */
  readonly dnsPort: number;
  /**
   * Address the Tor client listens on. Default: the host end of each environment's veth (then Tor
   * must listen on 0.0.0.0 and the host firewall must keep that port off the LAN). Never a
   * 127.0.0.0/8 address: reaching it from a netns would need route_localnet, which stays off.
   */
  readonly address?: string;
}

/** Options of {@link createNetworkManager}. */
export interface NetworkManagerOptions {
  /**
   * Directory for records, resolv.conf and hosts files (one subdirectory per environment). Put it
   * on a tmpfs (e.g. /run/virtos/net): the hosts files name peers, which is user data, and the
   * kernel objects the records describe vanish on reboot too.
   */
  readonly stateDir: string;
  readonly logger?: Logger;
  /** Upstream DNS of the egress proxy; tests inject one that maps names to stand-in servers. */
  readonly resolver?: Resolver;
  /** The Tor client for `tor` mode; without it `tor` mode fails with `network.unavailable`. */
  readonly tor?: TorEndpoint;
  /** Runs ip/nft/sysctl; defaults to execFile. */
  readonly runner?: CommandRunner;
  /** TCP ports an allowlist environment may use through the proxy (default 80 and 443). */
  readonly allowlistPorts?: readonly number[];
  /** Refuses upstream addresses of the proxy (default: loopback, link-local, host, VirtOS ranges). */
  readonly isForbiddenUpstream?: (ip: string) => boolean;
  /**
   * Directory of uplink-slot reservations shared by every manager on this host (a tmpfs, so it is
   * cleared with the kernel state on reboot). Default `/run/virtos/net-slots`.
   */
  readonly slotDir?: string;
  /**
   * Block RFC 1918 and CGNAT destinations and the host's directly attached networks (its LANs) in
   * `internet` mode (default true).
   */
  readonly internetBlocksPrivate?: boolean;
  /** Where sysctl values are read (default /proc/sys); tests point it at a fixture directory. */
  readonly procSysDir?: string;
  /** DNS servers given to `internet` environments (default: the host's non-loopback ones). */
  readonly internetDnsServers?: readonly string[];
}

/** The environment a network is set up for. */
export interface NetworkEnvRef {
  readonly id: string;
  /** Name other environments use in `network.peers`. */
  readonly name: string;
  /** Groups the environment belongs to; a peer entry may name a group instead of an environment. */
  readonly groups?: readonly string[];
}

/** What the runtime needs to put a container into the prepared network. */
export interface NetworkAttachment {
  readonly id: string;
  /** Path of the network namespace for the OCI config (`linux.namespaces[type=network].path`). */
  readonly netnsPath: string;
  /** Name of the netns (`ip netns exec <netnsName>`). */
  readonly netnsName: string;
  readonly mode: NetworkMode;
  /** File to bind-mount read-only onto /etc/resolv.conf in the container. */
  readonly resolvConfPath: string;
  /** File to bind-mount read-only onto /etc/hosts; lists peers by name (updated in place). */
  readonly hostsPath: string;
  /** Address of the environment on its uplink (none in `none` mode). */
  readonly envAddress?: string;
  /** Address of the host end of the uplink (proxy, DNS and Tor are reached here). */
  readonly hostAddress?: string;
  /** Current peers: environment name -> address on the private link. */
  peers(): ReadonlyMap<string, string>;
  /** Removes everything of this environment exactly; safe to call more than once. */
  dispose(): Promise<void>;
}

/** Sets up and removes environment networks. */
export interface NetworkManager {
  /** Creates the environment's own netns and applies the mode; resolves when traffic rules are in force. */
  setup(
    env: NetworkEnvRef,
    network: NetworkSpec,
    opts?: { signal?: AbortSignal },
  ): Promise<NetworkAttachment>;
  /**
   * Takes over the network of an environment that a previous manager (an earlier daemon process
   * over the same stateDir) set up and that still runs: the kernel objects (netns, veth, nftables
   * tables, NAT) survived that process; what lived inside it is made again: the allowlist egress
   * proxy and DNS responder (on new ports, with the host table swapped atomically) and the
   * bookkeeping of peer links. The network enforced is the one recorded at setup (mode, allowlist,
   * peers), not `network`, the desired spec, whose changes wait for a restart; `network` only fills
   * in what a record of an older version lacks. Idempotent: an attachment this manager holds is
   * returned as is. Fails with `network.setup_failed` when no record, namespace or uplink is left
   * (final: the environment cannot get its network back), and with another code (`unavailable`,
   * `tool_missing`, ...) when re-making it failed now and may work on a retry.
   */
  adopt(env: NetworkEnvRef, network: NetworkSpec): Promise<NetworkAttachment>;
  /**
   * Finds and removes netns, veths, nftables tables and proxies of environments that no longer
   * exist (crash leftovers recorded in this manager's stateDir). Returns the names it removed.
   */
  cleanupLeftovers(liveIds: readonly string[]): Promise<string[]>;
  /** Disposes every attachment and restores forwarding if this manager turned it on. */
  dispose(): Promise<void>;
}

interface PeerLink {
  readonly otherId: string;
  readonly slot: number;
  readonly ifname: string;
  readonly address: string;
}

interface Live {
  readonly env: NetworkEnvRef;
  readonly spec: NetworkSpec;
  readonly names: EnvNames;
  readonly record: AttachmentRecord;
  readonly hostsPath: string;
  readonly links: Map<string, PeerLink>;
  proxy?: EgressProxy;
  dns?: DnsResponder;
  disposing?: Promise<void> | undefined;
  /** The attachment handed out (adopt returns the same one again). */
  attachment?: NetworkAttachment;
}

const NETNS_DIR = '/run/netns';
const HOSTNAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/;

/** Creates a network manager; see {@link NetworkManager}. */
export function createNetworkManager(opts: NetworkManagerOptions): NetworkManager {
  const run = opts.runner ?? execRunner;
  const logger = (opts.logger ?? nullLogger).child({ component: 'network' });
  const slotDir = opts.slotDir ?? '/run/virtos/net-slots';
  const allowlistPorts = opts.allowlistPorts ?? [80, 443];
  const procSysDir = opts.procSysDir ?? '/proc/sys';
  const live = new Map<string, Live>();
  const peerSlots = new Set<number>();
  let rangeChecked = false;

  const ip = (args: string[], signal?: AbortSignal) => run('ip', args, signal ? { signal } : {});
  const nft = (ruleset: string, netns?: string) =>
    netns
      ? run('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { input: ruleset })
      : run('nft', ['-f', '-'], { input: ruleset });
  /** Runs several ip commands in one process (`ip [-n ns] -batch -`). */
  const ipBatch = (lines: readonly string[], netns: string | undefined, signal?: AbortSignal) =>
    run('ip', [...(netns ? ['-n', netns] : []), '-batch', '-'], {
      input: lines.join('\n') + '\n',
      ...(signal && { signal }),
    });
  const quiet = async (what: () => Promise<unknown>): Promise<boolean> => {
    try {
      await what();
      return true;
    } catch {
      return false;
    }
  };

  async function checkRange(): Promise<void> {
    if (rangeChecked) return;
    const { stdout } = await ip(['-j', '-4', 'route', 'show', 'table', 'all']);
    const routes = (JSON.parse(stdout || '[]') as HostRoute[]).filter(
      (r) => typeof r.dst === 'string',
    );
    for (const range of [UPLINK_RANGE, PEER_RANGE]) {
      const conflict = findRouteConflict(routes, range);
      if (conflict) {
        throw NetworkErrors.create(
          'setup_failed',
          `The VirtOS address range ${range.base}/${range.prefix} overlaps the host route ${conflict.dst}.`,
          {
            hint: 'Remove or renumber the conflicting network; see docs/network.md, "Address plan".',
          },
        );
      }
    }
    rangeChecked = true;
  }

  async function reserveUplink(
    short: string,
    owner: string,
  ): Promise<{ addr: LinkAddresses; file: string }> {
    await mkdir(slotDir, { recursive: true, mode: 0o700 });
    const { stdout } = await ip(['-j', '-4', 'addr', 'show']);
    const used = new Set<string>();
    for (const link of JSON.parse(stdout || '[]') as { addr_info?: { local?: string }[] }[]) {
      for (const a of link.addr_info ?? []) if (a.local) used.add(a.local);
    }
    let file = '';
    const slot = await pickSlot(short, async (s) => {
      const addr = linkAddresses(UPLINK_RANGE, s);
      if (used.has(addr.first) || used.has(addr.second)) return true;
      const path = join(slotDir, `uplink-${s}`);
      try {
        // SECURITY: O_EXCL creation is the cross-process lock of a slot; no two managers can
        // hand out the same /30, so no environment can ever receive another one's addresses.
        const handle = await open(path, 'wx', 0o600);
        await handle.writeFile(owner);
        await handle.close();
        file = path;
        return false;
      } catch {
        return true;
      }
    });
    if (slot === undefined) {
      throw NetworkErrors.create(
        'addresses_exhausted',
        `All ${SLOTS_PER_RANGE} uplink slots are in use.`,
        {
          hint: 'Remove stopped environments, or run cleanupLeftovers (virtos doctor --fix).',
        },
      );
    }
    return { addr: linkAddresses(UPLINK_RANGE, slot), file };
  }

  async function hostLans(): Promise<string[]> {
    const { stdout } = await ip(['-j', '-4', 'route', 'show']);
    return lanCidrs(JSON.parse(stdout || '[]') as HostRoute[]);
  }

  async function hostDnsServers(): Promise<string[]> {
    if (opts.internetDnsServers) return [...opts.internetDnsServers];
    try {
      const text = await readFile('/etc/resolv.conf', 'utf8');
      return [...text.matchAll(/^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)]
        .map((m) => m[1] ?? '')
        .filter((a) => a && !inCidr(a, '127.0.0.0', 8));
    } catch {
      return [];
    }
  }

  /** True when the guard table exists, i.e. some VirtOS manager turned forwarding on. */
  const hasGuard = () => quiet(() => run('nft', ['list', 'table', 'inet', GUARD_TABLE]));

  /**
   * Turns IPv4 forwarding on for NAT, unless it already is. The guard table doubles as the shared
   * marker "VirtOS turned forwarding on", so whichever manager disposes the last uplink on this
   * host restores the setting, not only the one that changed it.
   */
  async function ensureForwarding(): Promise<void> {
    const current = (await readFile(join(procSysDir, 'net/ipv4/ip_forward'), 'utf8')).trim();
    if (current === '1') return;
    // SECURITY: forwarding is needed for NAT. Before turning it on, the guard table restricts
    // forwarding to packets entering or leaving a virtos- interface, so the host does not start
    // routing between its other networks. Each environment's own table then narrows its traffic.
    await nft(guardRuleset());
    // SECURITY: sysctl via execFile with a fixed key; route_localnet is never touched (stays 0),
    // so 127.0.0.0/8 of the host stays unroutable from any veth.
    await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    logger.info('enabled IPv4 forwarding with the virtos-guard table');
  }

  /**
   * Restores forwarding to off when VirtOS turned it on (the guard exists) and no VirtOS uplink of
   * any manager is left. Our uplinks exist before their managers look at forwarding, so a manager
   * setting up concurrently either keeps this from restoring or turns forwarding on again itself.
   */
  async function restoreForwardingIfUnused(): Promise<void> {
    if (!(await hasGuard())) return;
    const { stdout } = await ip(['-j', 'link', 'show']);
    const inUse = (JSON.parse(stdout || '[]') as { ifname?: string }[]).some((x) =>
      /^virtos-[0-9a-f]{8}$/.test(x.ifname ?? ''),
    );
    if (inUse) return;
    // SECURITY: restores the host's original setting (forwarding off), then removes the guard.
    await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);
    await quiet(() => run('nft', ['delete', 'table', 'inet', GUARD_TABLE]));
    logger.info('restored IPv4 forwarding to off');
  }

  function isPeerOf(a: { spec: NetworkSpec }, b: { env: NetworkEnvRef }): boolean {
    return a.spec.peers.some((p) => p === b.env.name || (b.env.groups ?? []).includes(p));
  }

  async function writeHosts(l: Live): Promise<void> {
    const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
    for (const link of l.links.values()) {
      const other = live.get(link.otherId);
      const otherLink = other?.links.get(l.env.id);
      // Only names that are valid host names go into /etc/hosts (no injected lines or fields).
      if (other && otherLink && HOSTNAME_RE.test(other.env.name)) {
        lines.push(`${otherLink.address}\t${other.env.name}`);
      }
    }
    // writeFile truncates in place (same inode), so a bind mount of this file sees the update.
    await writeFile(l.hostsPath, lines.join('\n') + '\n', { mode: 0o644 });
  }

  /** Serializes peer changes, so concurrent setups never link the same pair twice. */
  let peerQueue: Promise<unknown> = Promise.resolve();
  function withPeerLock<T>(fn: () => Promise<T>): Promise<T> {
    const next = peerQueue.then(fn, fn);
    peerQueue = next.catch(() => {});
    return next;
  }

  async function connectPeers(a: Live): Promise<void> {
    for (const b of live.values()) {
      if (b === a || b.disposing || a.links.has(b.env.id)) continue;
      if (!isPeerOf(a, b) || !isPeerOf(b, a)) continue;
      let slot = 1;
      while (peerSlots.has(slot)) slot++;
      if (slot >= SLOTS_PER_RANGE)
        throw NetworkErrors.create('addresses_exhausted', 'No peer link slot left.');
      peerSlots.add(slot);
      const addr = linkAddresses(PEER_RANGE, slot);
      const aIf = PEER_LINK_PREFIX + b.names.short;
      const bIf = PEER_LINK_PREFIX + a.names.short;
      const aLink: PeerLink = { otherId: b.env.id, slot, ifname: aIf, address: addr.first };
      const bLink: PeerLink = { otherId: a.env.id, slot, ifname: bIf, address: addr.second };
      a.links.set(b.env.id, aLink);
      b.links.set(a.env.id, bLink);
      // SECURITY: the pair is a veth whose two ends live only in the two environments' netns; it
      // never touches the host namespace, so no third environment and not the host can see it.
      // Neither netns forwards (ip_forward is 0 in a new netns), so peering is not transitive.
      await ip([
        'link',
        'add',
        aIf,
        'netns',
        a.names.netns,
        'type',
        'veth',
        'peer',
        'name',
        bIf,
        'netns',
        b.names.netns,
      ]);
      // SECURITY: addresses from the peer range, a fresh /30 per pair, set only inside the two
      // namespaces; no route is added anywhere else, so the link carries only A<->B traffic.
      await ip(['-n', a.names.netns, 'addr', 'add', `${addr.first}/30`, 'dev', aIf]);
      await ip(['-n', b.names.netns, 'addr', 'add', `${addr.second}/30`, 'dev', bIf]);
      // SECURITY: both netns already have their rules (peer links are open by design there).
      await ip(['-n', a.names.netns, 'link', 'set', aIf, 'up']);
      await ip(['-n', b.names.netns, 'link', 'set', bIf, 'up']);
      await writeHosts(b);
      logger.info('peers linked', { a: a.env.id, b: b.env.id });
    }
    await writeHosts(a);
  }

  async function disconnectPeers(a: Live): Promise<void> {
    for (const link of a.links.values()) {
      const b = live.get(link.otherId);
      // SECURITY: deleting one end of a veth deletes the pair; names are ours (vp-<short>).
      await quiet(() => ip(['-n', a.names.netns, 'link', 'del', link.ifname]));
      peerSlots.delete(link.slot);
      if (b) {
        b.links.delete(a.env.id);
        await quiet(() => writeHosts(b));
      }
    }
    a.links.clear();
  }

  /** Removes what a record lists; returns the names of objects that existed. */
  async function teardown(record: AttachmentRecord): Promise<string[]> {
    const removed: string[] = [];
    if (record.hostTable) {
      // SECURITY: deletes only the table named after this environment's short id.
      if (await quiet(() => run('nft', ['delete', 'table', 'inet', record.hostTable ?? '']))) {
        removed.push(`nft:inet ${record.hostTable}`);
      }
    }
    if (record.hostVeth) {
      // SECURITY: deletes only this environment's veth (and with it the end inside the netns).
      if (await quiet(() => ip(['link', 'del', record.hostVeth ?? ''])))
        removed.push(`link:${record.hostVeth}`);
    }
    // Links inside the netns (peer links, the uplink end) go explicitly, so they vanish even when a
    // leftover process still holds the namespace open after its name is removed.
    const inside = await quiet(async () => {
      const { stdout } = await ip(['-n', record.netns, '-j', 'link', 'show']);
      for (const l of JSON.parse(stdout || '[]') as { ifname?: string }[]) {
        if (l.ifname && l.ifname !== 'lo') {
          // SECURITY: only links inside this environment's own namespace are deleted.
          await quiet(() => ip(['-n', record.netns, 'link', 'del', l.ifname ?? '']));
        }
      }
    });
    if (inside) {
      try {
        // SECURITY: removes only the named namespace this manager created (virtos-<short>).
        await ip(['netns', 'del', record.netns]);
        removed.push(`netns:${record.netns}`);
      } catch (e) {
        // Keep the record: a later dispose or cleanupLeftovers can finish the job.
        throw NetworkErrors.create(
          'teardown_failed',
          `Could not remove network namespace ${record.netns} of ${record.id}.`,
          { subject: record.id, cause: e, hint: 'Run `virtos doctor --fix` to retry.' },
        );
      }
    }
    if (record.slotFile) await rm(record.slotFile, { force: true });
    await rm(record.dir, { recursive: true, force: true });
    await removeRecord(opts.stateDir, record.short);
    return removed;
  }

  async function disposeLive(l: Live): Promise<void> {
    l.disposing ??= (async () => {
      const started = Date.now();
      await l.proxy?.close();
      await l.dns?.close();
      await withPeerLock(() => disconnectPeers(l));
      await teardown(l.record);
      live.delete(l.env.id);
      if (l.record.usesForwarding) await quiet(() => restoreForwardingIfUnused());
      logger.info('network removed', { env: l.env.id, ms: Date.now() - started });
    })().catch((e: unknown) => {
      // Allow a retry: the record still lists what is left.
      l.disposing = undefined;
      throw e;
    });
    return l.disposing;
  }

  function attachmentOf(l: Live, resolvConfPath: string, up?: LinkAddresses): NetworkAttachment {
    return {
      id: l.env.id,
      netnsPath: join(NETNS_DIR, l.names.netns),
      netnsName: l.names.netns,
      mode: l.spec.mode,
      resolvConfPath,
      hostsPath: l.hostsPath,
      ...(up && { envAddress: up.second, hostAddress: up.first }),
      peers: () => {
        const out = new Map<string, string>();
        for (const link of l.links.values()) {
          const other = live.get(link.otherId);
          const theirs = other?.links.get(l.env.id);
          if (other && theirs) out.set(other.env.name, theirs.address);
        }
        return out;
      },
      dispose: () => disposeLive(l),
    };
  }

  async function setup(
    env: NetworkEnvRef,
    network: NetworkSpec,
    setupOpts: { signal?: AbortSignal } = {},
  ): Promise<NetworkAttachment> {
    const signal = setupOpts.signal;
    throwIfAborted(signal, 'network setup');
    if (live.has(env.id)) {
      throw NetworkErrors.create('setup_failed', `Environment ${env.id} already has a network.`, {
        subject: env.id,
        hint: 'Dispose the existing attachment first.',
      });
    }
    if (network.mode === 'tor' && !opts.tor) {
      throw NetworkErrors.create(
        'unavailable',
        `Environment ${env.id} asks for Tor, but no Tor client is configured.`,
        {
          subject: env.id,
          hint: 'Install tor and configure TransPort and DNSPort, or choose another network mode.',
        },
      );
    }
    if (opts.tor?.address && inCidr(opts.tor.address, '127.0.0.0', 8)) {
      throw NetworkErrors.create(
        'invalid_spec',
        'The Tor client address must not be a loopback address.',
        {
          hint: 'Let Tor listen on the veth host ends (0.0.0.0 with a host firewall) or a dedicated address.',
        },
      );
    }
    const started = Date.now();
    const names = envNames(env.id);
    const dir = join(opts.stateDir, 'network', names.short);
    const record: AttachmentRecord = {
      version: 1,
      id: env.id,
      short: names.short,
      mode: network.mode,
      netns: names.netns,
      dir,
      // SECURITY: the policy in force is kept with the kernel objects (RAM, root-only), so an
      // adoption re-makes exactly this network, never a desired one that waits for a restart.
      ...(network.mode === 'allowlist' && { allow: [...network.allow] }),
      peers: [...network.peers],
    };
    const l: Live = {
      env,
      spec: network,
      names,
      record,
      hostsPath: join(dir, 'hosts'),
      links: new Map(),
    };
    try {
      // The record exists before any kernel object does, so a crash at any point is recoverable.
      await writeRecord(opts.stateDir, record);
      await mkdir(dir, { recursive: true, mode: 0o755 });
      const resolvConfPath = join(dir, 'resolv.conf');
      // SECURITY: a new, empty network namespace: no interfaces but lo, no routes, no rules. The
      // name is virtos-<8 hex> derived from the id, never user text.
      try {
        await ip(['netns', 'add', names.netns], signal);
      } catch (e) {
        // Nothing of ours exists yet; an existing namespace of that name is not ours to remove.
        await rm(dir, { recursive: true, force: true });
        await removeRecord(opts.stateDir, names.short);
        throw NetworkErrors.create(
          'setup_failed',
          `Cannot create network namespace ${names.netns} for ${env.id}: ${e instanceof Error ? e.message : String(e)}`,
          {
            subject: env.id,
            cause: e,
            hint: 'A leftover of a crashed run may hold the name: run `virtos doctor --fix` (cleanupLeftovers).',
          },
        );
      }
      live.set(env.id, l);
      // SECURITY: IPv6 is off inside the netns so no link-local or SLAAC path bypasses IPv4 rules.
      await run('ip', [
        'netns',
        'exec',
        names.netns,
        'sysctl',
        '-q',
        '-w',
        'net.ipv6.conf.all.disable_ipv6=1',
        'net.ipv6.conf.default.disable_ipv6=1',
      ]);
      let up: LinkAddresses | undefined;
      if (network.mode === 'none') {
        // SECURITY: bringing lo up only enables 127.0.0.1 of the new netns itself, not the host's.
        await ip(['-n', names.netns, 'link', 'set', 'lo', 'up'], signal);
        await writeFile(resolvConfPath, '# network mode none: no name service\n', { mode: 0o644 });
      } else {
        throwIfAborted(signal, 'network setup');
        await checkRange();
        const reserved = await reserveUplink(names.short, `${opts.stateDir} ${env.id}\n`);
        up = reserved.addr;
        record.slotFile = reserved.file;
        record.hostVeth = names.hostVeth;
        record.hostTable = names.hostTable;
        await writeRecord(opts.stateDir, record);
        // SECURITY: the netns rules (default drop, only what the mode needs) are loaded before the
        // uplink exists, so there is no moment with an open uplink and no rules.
        await nft(netnsRuleset(network.mode), names.netns);
        // SECURITY: the veth's inner end is created directly inside the netns; its host end is the
        // only path out and is filtered by the per-environment host table below.
        // SECURITY: the /30 was reserved exclusively above; this host address is reachable only
        // on the ports the host table accepts for this veth (none in internet mode). One `ip -batch`
        // run, argument lines built from our own names and addresses only (no user text).
        await ipBatch(
          [
            `link add ${names.hostVeth} type veth peer name ${ENV_VETH} netns ${names.netns}`,
            `addr add ${up.first}/30 dev ${names.hostVeth}`,
          ],
          undefined,
          signal,
        );
        // SECURITY: no IPv6 on the host end either: no link-local host address to reach. Set
        // before the link is up, so no link-local address is ever assigned.
        await run('sysctl', ['-q', '-w', `net.ipv6.conf.${names.hostVeth}.disable_ipv6=1`]);
        // SECURITY: inside the netns: lo (its own 127.0.0.1, not the host's), the environment's
        // address, the inner end up (no carrier until the host end is up; the netns rules are
        // already loaded), and a default route that points only at the host end, where the host
        // table decides what happens to each packet (redirect to proxy/Tor, NAT, or drop).
        await ipBatch(
          [
            'link set lo up',
            `addr add ${up.second}/30 dev ${ENV_VETH}`,
            `link set ${ENV_VETH} up`,
            `route add default via ${up.first} dev ${ENV_VETH}`,
          ],
          names.netns,
          signal,
        );
        throwIfAborted(signal, 'network setup');
        let nameserver = up.first;
        if (network.mode === 'allowlist') {
          await startAllowlist(l, up, network.allow);
        } else if (network.mode === 'tor') {
          const tor = opts.tor as TorEndpoint;
          // SECURITY: every TCP packet from the veth is redirected to the Tor TransPort and DNS
          // to its DNSPort; input accepts only those two ports, forward drops everything, so
          // nothing reaches the outside or the host except through Tor.
          await nft(
            hostRuleset({
              mode: 'tor',
              table: names.hostTable,
              hostVeth: names.hostVeth,
              hostAddress: up.first,
              envAddress: up.second,
              tor,
            }),
          );
        } else {
          const dnsServers = await hostDnsServers();
          const blocked = [
            ...NEVER_REACHABLE_V4,
            `${UPLINK_RANGE.base}/${UPLINK_RANGE.prefix}`,
            `${PEER_RANGE.base}/${PEER_RANGE.prefix}`,
            ...(opts.internetBlocksPrivate === false ? [] : [...PRIVATE_V4, ...(await hostLans())]),
          ];
          await ensureForwarding();
          record.usesForwarding = true;
          await writeRecord(opts.stateDir, record);
          // SECURITY: NAT (masquerade) for the environment's one address only; input from the veth
          // is dropped (no host address is reachable), forward drops other environments, private
          // ranges and link-local (cloud metadata), and nothing may enter the veth unless it
          // answers a connection the environment opened.
          await nft(
            hostRuleset({
              mode: 'internet',
              table: names.hostTable,
              hostVeth: names.hostVeth,
              hostAddress: up.first,
              envAddress: up.second,
              internet: { blocked, dnsServers },
            }),
          );
          nameserver = '';
          await writeFile(
            resolvConfPath,
            (dnsServers.length ? dnsServers : ['1.1.1.1', '9.9.9.9'])
              .map((s) => `nameserver ${s}\n`)
              .join(''),
            { mode: 0o644 },
          );
        }
        if (nameserver)
          await writeFile(
            resolvConfPath,
            `nameserver ${nameserver}\noptions timeout:2 attempts:2\n`,
            { mode: 0o644 },
          );
        // SECURITY: links come up only now, after both rulesets are in force.
        await ip(['link', 'set', names.hostVeth, 'up'], signal);
      }
      await withPeerLock(() => connectPeers(l));
      logger.info('network ready', { env: env.id, mode: network.mode, ms: Date.now() - started });
      l.attachment = attachmentOf(l, resolvConfPath, up);
      return l.attachment;
    } catch (e) {
      // Roll back only when the namespace is ours (live is set right after `ip netns add`).
      if (live.get(env.id) === l) await quiet(() => disposeLive(l));
      live.delete(env.id);
      if (
        e instanceof VirtosError &&
        !(NetworkErrors.is(e, 'setup_failed') && e.subject !== env.id)
      ) {
        throw e;
      }
      throw NetworkErrors.create(
        'setup_failed',
        `Failed to set up the ${network.mode} network of ${env.id}: ${e instanceof Error ? e.message : String(e)}`,
        {
          subject: env.id,
          cause: e,
          hint: 'Run `virtos doctor` to check iproute2, nftables and root privileges.',
        },
      );
    }
  }

  /**
   * Starts the egress proxy and DNS responder of an allowlist environment on the veth host end and
   * loads its host table, which redirects to their ports (replacing an older table atomically).
   */
  async function startAllowlist(
    l: Live,
    up: LinkAddresses,
    allow: readonly string[],
  ): Promise<void> {
    const matcher = createDomainMatcher(allow);
    if (matcher.patterns.length !== allow.length) {
      logger.warn('ignored invalid allowlist entries', {
        env: l.env.id,
        given: allow.length,
        used: matcher.patterns.length,
      });
    }
    l.proxy = await startEgressProxy({
      address: up.first,
      upstreamPorts: allowlistPorts,
      matcher,
      logger: logger.child({ env: l.env.id }),
      ...(opts.resolver && { resolver: opts.resolver }),
      ...(opts.isForbiddenUpstream && { isForbidden: opts.isForbiddenUpstream }),
    });
    l.dns = await startDnsResponder({
      address: up.first,
      isAllowed: (n) => matcher.matches(n),
      proxyAddress: up.first,
    });
    // SECURITY: the host table redirects the environment's 80/443/53 to the proxy and DNS
    // responder on the veth host end and drops every other packet from the veth, so the host's
    // other services, its other addresses and other environments stay unreachable. Loaded as one
    // transaction, so an adopted environment never sees a moment without rules.
    await nft(
      hostRuleset({
        mode: 'allowlist',
        table: l.names.hostTable,
        hostVeth: l.names.hostVeth,
        hostAddress: up.first,
        envAddress: up.second,
        proxy: { tcp: l.proxy.ports, dnsPort: l.dns.port },
      }),
    );
  }

  /** The uplink addresses of a record, from its slot reservation file (`uplink-<slot>`). */
  function uplinkOf(record: AttachmentRecord): LinkAddresses | undefined {
    const slot = Number(/uplink-(\d+)$/.exec(record.slotFile ?? '')?.[1]);
    return Number.isInteger(slot) && slot > 0 ? linkAddresses(UPLINK_RANGE, slot) : undefined;
  }

  /**
   * Rebuilds the peer-link bookkeeping of an adopted environment from its netns: each `vp-<short>`
   * link, its /30 slot (so no new link reuses it) and, when the other side is known here, the pair.
   */
  async function recoverPeers(l: Live, records: readonly AttachmentRecord[]): Promise<void> {
    const { stdout } = await ip(['-n', l.names.netns, '-j', '-4', 'addr', 'show']);
    const links = JSON.parse(stdout || '[]') as {
      ifname?: string;
      addr_info?: { local?: string }[];
    }[];
    for (const link of links) {
      const ifname = link.ifname ?? '';
      const local = link.addr_info?.[0]?.local;
      if (!ifname.startsWith(PEER_LINK_PREFIX) || !local) continue;
      const base = parseIpv4(PEER_RANGE.base) ?? 0;
      const slot = Math.floor(((parseIpv4(local) ?? 0) - base) / 4);
      if (slot <= 0 || slot >= SLOTS_PER_RANGE) continue;
      peerSlots.add(slot);
      const otherShort = ifname.slice(PEER_LINK_PREFIX.length);
      const other = records.find((r) => r.short === otherShort);
      if (!other) continue;
      l.links.set(other.id, { otherId: other.id, slot, ifname, address: local });
    }
  }

  async function adopt(env: NetworkEnvRef, network: NetworkSpec): Promise<NetworkAttachment> {
    const known = live.get(env.id);
    if (known?.attachment && !known.disposing) return known.attachment;
    const records = await readRecords(opts.stateDir);
    const record = records.find((r) => r.id === env.id);
    if (!record || !existsSync(join(NETNS_DIR, record.netns))) {
      throw NetworkErrors.create(
        'setup_failed',
        `No network of ${env.id} is left to adopt on this host.`,
        { subject: env.id, hint: 'Provision the environment again.' },
      );
    }
    const names = envNames(env.id);
    // The network in force is the one set up (the record); `network` (the desired spec) only fills
    // in what a record of an older version lacks.
    const inForce: NetworkSpec = {
      ...network,
      mode: record.mode,
      allow: [...(record.allow ?? network.allow)],
      peers: [...(record.peers ?? network.peers)],
    };
    const l: Live = {
      env,
      spec: inForce,
      names,
      record,
      hostsPath: join(record.dir, 'hosts'),
      links: new Map(),
    };
    const up = uplinkOf(record);
    if (record.mode === 'allowlist' && (!up || !record.hostTable)) {
      throw NetworkErrors.create(
        'setup_failed',
        `The allowlist uplink of ${env.id} is incomplete.`,
        { subject: env.id, hint: 'Provision the environment again.' },
      );
    }
    live.set(env.id, l);
    try {
      if (record.mode === 'allowlist' && up) await startAllowlist(l, up, inForce.allow);
      await withPeerLock(() => recoverPeers(l, records));
    } catch (e) {
      live.delete(env.id);
      await l.proxy?.close();
      await l.dns?.close();
      // `setup_failed` is kept for what is gone for good (no record, namespace or uplink, above);
      // a failing command or port while re-making the rest may pass on a retry.
      throw e instanceof VirtosError && e.code !== 'network.setup_failed'
        ? e
        : NetworkErrors.create(
            'unavailable',
            `Cannot adopt the network of ${env.id} now: ${e instanceof Error ? e.message : String(e)}`,
            {
              subject: env.id,
              cause: e,
              hint: 'Run `virtos doctor` to check iproute2 and nftables.',
            },
          );
    }
    l.attachment = attachmentOf(l, join(record.dir, 'resolv.conf'), up);
    logger.info('network adopted', { env: env.id, mode: record.mode });
    return l.attachment;
  }

  async function cleanupLeftovers(liveIds: readonly string[]): Promise<string[]> {
    const keep = new Set(liveIds);
    const removed: string[] = [];
    for (const l of [...live.values()]) {
      if (keep.has(l.env.id)) continue;
      removed.push(`netns:${l.names.netns}`);
      if (l.proxy) removed.push(`proxy:${l.names.short}`);
      await disposeLive(l);
    }
    for (const record of await readRecords(opts.stateDir)) {
      if (keep.has(record.id) || live.has(record.id)) continue;
      removed.push(...(await teardown(record)));
      logger.info('removed network leftovers', { env: record.id });
    }
    // A crashed manager may have left forwarding on with nothing left to use it.
    await quiet(() => restoreForwardingIfUnused());
    return removed;
  }

  async function dispose(): Promise<void> {
    await Promise.all([...live.values()].map((l) => disposeLive(l)));
    await quiet(() => restoreForwardingIfUnused());
  }

  return { setup, adopt, cleanupLeftovers, dispose };
}
