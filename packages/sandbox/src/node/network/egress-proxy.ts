/**
 * The egress proxy of `allowlist` environments. It runs inside the daemon, listens on the host end
 * of one environment's veth, and for each connection reads just enough to learn the target name
 * (TLS SNI, or the HTTP Host header), checks it against the allowlist, resolves it itself and
 * splices the connection to the upstream server. It never terminates TLS. Names the environment
 * visits are user data: they are logged at debug level only; audit through `onDecision`.
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP, connect, createServer, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';

import type { Logger } from '@virtos/core';
import { nullLogger } from '@virtos/core';

import {
  NEVER_REACHABLE_V4,
  PEER_RANGE,
  PRIVATE_V4,
  UPLINK_RANGE,
  inAnyCidr,
  inCidr,
} from './addresses.js';
import type { DomainMatcher } from './domain-match.js';
import { MAX_HTTP_HEAD_BYTES, forceConnectionClose, parseHttpHost } from './http-host.js';
import { MAX_CLIENT_HELLO_BYTES, looksLikeTls, parseClientHelloSni } from './sni.js';

/** Upstream name resolution; injectable so tests map names to local stand-in servers. */
export interface Resolver {
  /** IPv4 addresses of `hostname`; rejects or returns [] when it has none. */
  resolve4(hostname: string): Promise<string[]>;
}

/** The system resolver (the daemon's own DNS configuration). */
export const systemResolver: Resolver = {
  resolve4: (hostname) => dnsPromises.resolve4(hostname),
};

/**
 * True for addresses the proxy must never connect to even when an allowed name resolves to them:
 * loopback, link-local (cloud metadata), multicast, the VirtOS ranges, private ranges (RFC 1918,
 * CGNAT), every address of this host and every network it is directly attached to (its LANs;
 * VirtOS links excluded). This stops DNS rebinding from turning an allowed name into a path to
 * host or LAN services. Pass `isForbiddenUpstream` to the manager to relax it on purpose.
 */
export function isForbiddenUpstream(ip: string): boolean {
  if (isIP(ip) !== 4) return true;
  if (inAnyCidr(ip, NEVER_REACHABLE_V4) || inAnyCidr(ip, PRIVATE_V4)) return true;
  if (inAnyCidr(ip, [`${UPLINK_RANGE.base}/${UPLINK_RANGE.prefix}`])) return true;
  if (inAnyCidr(ip, [`${PEER_RANGE.base}/${PEER_RANGE.prefix}`])) return true;
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.family !== 'IPv4') continue;
      if (info.address === ip) return true;
      const [, prefix] = (info.cidr ?? '').split('/');
      if (!name.startsWith('virtos-') && prefix && inCidr(ip, info.address, Number(prefix))) {
        return true;
      }
    }
  }
  return false;
}

/** Why a connection was refused or where it went; one event per connection. */
export interface ProxyDecision {
  readonly allowed: boolean;
  readonly via: 'sni' | 'http' | 'unknown';
  readonly host?: string;
  readonly upstream?: string;
  readonly reason?: string;
}

/** Options of {@link startEgressProxy}. */
export interface EgressProxyOptions {
  /** Address to listen on (the host end of the environment's veth). */
  readonly address: string;
  /** Upstream ports to serve; each gets its own listener on an ephemeral port. */
  readonly upstreamPorts: readonly number[];
  readonly matcher: DomainMatcher;
  readonly resolver?: Resolver;
  /** Refuses upstream addresses; defaults to {@link isForbiddenUpstream}. */
  readonly isForbidden?: (ip: string) => boolean;
  /** Time for the client to send its first request bytes, and for the upstream to accept, in ms. */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
  /** Concurrent client connections per listener (default 256); more are refused at accept. */
  readonly maxConnections?: number;
  /** Called once per connection with the decision (for tests and audit). */
  readonly onDecision?: (d: ProxyDecision) => void;
}

/** A running proxy. */
export interface EgressProxy {
  readonly address: string;
  /** Listening port per upstream port. */
  readonly ports: ReadonlyMap<number, number>;
  close(): Promise<void>;
}

/** Starts one listener per upstream port on `address`; resolves when all listen. */
export async function startEgressProxy(opts: EgressProxyOptions): Promise<EgressProxy> {
  const resolver = opts.resolver ?? systemResolver;
  const isForbidden = opts.isForbidden ?? isForbiddenUpstream;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const logger = opts.logger ?? nullLogger;
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  const ports = new Map<number, number>();

  const track = (s: Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  const handle = (client: Socket, upstreamPort: number): void => {
    track(client);
    let buffered: Buffer = Buffer.alloc(0);
    let decided = false;
    client.setTimeout(timeoutMs, () => client.destroy());
    client.on('error', () => {});

    const decide = (d: ProxyDecision): void => {
      decided = true;
      opts.onDecision?.(d);
      logger.debug(d.allowed ? 'egress allowed' : 'egress refused', { ...d, port: upstreamPort });
    };
    const refuse = (via: ProxyDecision['via'], reason: string, host?: string): void => {
      decide({ allowed: false, via, reason, ...(host !== undefined && { host }) });
      if (via === 'http') {
        client.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      } else {
        client.destroy();
      }
    };

    const onData = (chunk: Buffer): void => {
      if (decided) return;
      buffered = Buffer.concat([buffered, chunk]);
      let host: string;
      let via: 'sni' | 'http';
      if (looksLikeTls(buffered[0])) {
        via = 'sni';
        const r = parseClientHelloSni(buffered);
        if (r.kind === 'need_more') {
          if (buffered.length > MAX_CLIENT_HELLO_BYTES) refuse(via, 'ClientHello too long');
          return;
        }
        if (r.kind !== 'ok') {
          refuse(via, r.kind === 'no_sni' ? 'no server name (SNI)' : r.reason);
          return;
        }
        host = r.serverName;
      } else {
        via = 'http';
        const r = parseHttpHost(buffered);
        if (r.kind === 'need_more') {
          if (buffered.length > MAX_HTTP_HEAD_BYTES) refuse(via, 'request head too long');
          return;
        }
        if (r.kind === 'invalid') {
          refuse(via, r.reason);
          return;
        }
        host = r.host;
        buffered = forceConnectionClose(buffered, r.headLength);
      }
      if (!opts.matcher.matches(host)) {
        refuse(via, 'not on the allowlist', host);
        return;
      }
      client.pause();
      decided = true;
      void connectUpstream(client, host, via, upstreamPort, buffered);
    };
    client.on('data', onData);

    const connectUpstream = async (
      c: Socket,
      host: string,
      via: 'sni' | 'http',
      port: number,
      head: Buffer,
    ): Promise<void> => {
      let addresses: string[];
      try {
        addresses = await resolver.resolve4(host);
      } catch {
        addresses = [];
      }
      const target = addresses.find((a) => !isForbidden(a));
      if (!target) {
        decided = false;
        refuse(
          via,
          addresses.length ? 'resolves only to forbidden addresses' : 'does not resolve',
          host,
        );
        return;
      }
      const upstream = connect({ host: target, port, timeout: timeoutMs });
      let upstreamConnected = false;
      track(upstream);
      upstream.once('timeout', () => upstream.destroy());
      upstream.once('error', (err: NodeJS.ErrnoException) => {
        if (!upstreamConnected) {
          opts.onDecision?.({
            allowed: false,
            via,
            host,
            reason: `upstream: ${err.code ?? err.message}`,
          });
          logger.debug('egress upstream failed', { via, host, code: err.code });
        }
        c.destroy();
      });
      upstream.once('close', () => c.destroy());
      c.once('close', () => upstream.destroy());
      upstream.once('connect', () => {
        upstreamConnected = true;
        upstream.setTimeout(0);
        c.setTimeout(0);
        opts.onDecision?.({ allowed: true, via, host, upstream: `${target}:${port}` });
        logger.debug('egress allowed', { via, host, upstream: `${target}:${port}` });
        upstream.write(head);
        c.pipe(upstream);
        upstream.pipe(c);
        c.resume();
      });
    };
  };

  try {
    for (const upstreamPort of opts.upstreamPorts) {
      const server = createServer((s) => handle(s, upstreamPort));
      // One environment must not exhaust the daemon's file descriptors.
      server.maxConnections = opts.maxConnections ?? 256;
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, opts.address, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const addr = server.address();
      if (addr && typeof addr === 'object') ports.set(upstreamPort, addr.port);
    }
  } catch (e) {
    for (const s of servers) s.close();
    throw e;
  }

  let closed = false;
  return {
    address: opts.address,
    ports,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
