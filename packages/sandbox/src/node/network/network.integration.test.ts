/**
 * Security evidence for the network modes, on real parts: real netns, real nftables, real sockets.
 * Every probe runs INSIDE an environment's netns. All traffic stays on this machine: the "outside
 * world" is another netns routed through the host (198.18.x.0/30), upstream DNS is injected.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { NetworkSpec } from '@virtos/spec';

import { createNetworkManager, type NetworkAttachment, type NetworkManager } from './manager.js';
import {
  captureClientHello,
  createLanNeighbour,
  createOutsideWorld,
  dnsQueryHex,
  httpGetHex,
  pingFrom,
  probeFrom,
  readDnsAnswer,
  sh,
  startOriginalDstStandIn,
  startStandIn,
  type OutsideWorld,
  type StandIn,
} from './net-test-kit.js';

const isRoot = process.getuid?.() === 0;
const spec = (
  mode: NetworkSpec['mode'],
  allow: string[] = [],
  peers: string[] = [],
): NetworkSpec => ({
  mode,
  allow,
  peers,
});
const uniq = `${process.pid}-${Date.now().toString(36)}`;

/** The host's first non-loopback, non-VirtOS IPv4 address (its LAN address). */
function hostLanAddress(): string | undefined {
  for (const [name, infos] of Object.entries(networkInterfaces())) {
    if (name === 'lo' || name.startsWith('virtos-')) continue;
    for (const info of infos ?? [])
      if (info.family === 'IPv4' && !info.internal) return info.address;
  }
  return undefined;
}

/** Remote addresses each host listener saw: they must never include an environment. */
const seenBy = new Map<Server, string[]>();

async function listen(host: string, greeting: string): Promise<Server> {
  const seen: string[] = [];
  const server = createServer((s) => {
    seen.push(s.remoteAddress ?? '?');
    s.on('error', () => {});
    s.end(greeting + '\n');
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  seenBy.set(server, seen);
  return server;
}
const portOf = (s: Server): number => (s.address() as AddressInfo).port;

async function kernelState(): Promise<string> {
  const [ns, links, tables] = await Promise.all([
    sh('ip', ['netns', 'list']),
    sh('ip', ['-br', 'link']),
    sh('nft', ['list', 'tables']),
  ]);
  return `${ns}\n${links}\n${tables}`;
}

// Skipped only where the machine truly lacks the part: these tests need root (CAP_NET_ADMIN and
// CAP_SYS_ADMIN for netns), iproute2, nftables and busybox (ping). CI runs them as root.
describe.skipIf(!isRoot)(
  'network modes (root, real netns + nftables; skipped when not root)',
  () => {
    let stateDir: string;
    let manager: NetworkManager;
    let outside: OutsideWorld;
    let outsideServer: StandIn;
    let hostLo: Server;
    let hostAny: Server;
    let torTrans: StandIn | undefined;
    let torDns: UdpSocket;
    const torDnsSeen: string[] = [];
    let torTransPort = 0;
    let torDnsPort = 0;
    const timings: Record<string, { setupMs: number; disposeMs?: number }> = {};
    const attachments: NetworkAttachment[] = [];

    async function setup(id: string, name: string, s: NetworkSpec, groups?: string[]) {
      const started = performance.now();
      const a = await manager.setup({ id: `${id}-${uniq}`, name, ...(groups && { groups }) }, s);
      timings[`${s.mode}:${name}`] = { setupMs: Math.round(performance.now() - started) };
      attachments.push(a);
      return a;
    }

    beforeAll(async () => {
      stateDir = await mkdtemp(join(tmpdir(), 'virtos-net-it-'));
      outside = await createOutsideWorld();
      outsideServer = await startStandIn(outside.netns, 'OUTSIDE', [80, 443, 8080], [9999]);
      hostLo = await listen('127.0.0.1', 'HOST-LOOPBACK');
      hostAny = await listen('0.0.0.0', 'HOST-ANY');
      // Stand-ins for the Tor client: whatever reaches these ports is "in Tor".
      const probe = await listen('0.0.0.0', 'x');
      torTransPort = portOf(probe);
      probe.close();
      torTrans = await startStandIn(undefined, 'TOR-TRANS', [torTransPort]);
      torDns = createSocket('udp4');
      torDns.on('message', (m, r) => {
        torDnsSeen.push(r.address);
        torDns.send(Buffer.from('TOR-DNS'), r.port, r.address);
      });
      await new Promise<void>((r) => torDns.bind(0, '0.0.0.0', r));
      torDnsPort = torDns.address().port;
      manager = createNetworkManager({
        stateDir,
        tor: { transPort: torTransPort, dnsPort: torDnsPort },
        internetDnsServers: [],
        resolver: {
          resolve4: async (host) => {
            if (host === 'rebind.test') return ['127.0.0.1'];
            if (host.endsWith('.test')) return [outside.address];
            return [];
          },
        },
      });
    });

    afterAll(async () => {
      const t = performance.now();
      await manager?.dispose().catch(() => {});
      console.log('[network] manager.dispose ms', Math.round(performance.now() - t));
      console.log('[network] timings', JSON.stringify(timings));
      await outsideServer?.stop();
      await torTrans?.stop();
      torDns?.close();
      hostLo?.close();
      hostAny?.close();
      await outside?.remove();
      await rm(stateDir, { recursive: true, force: true });
    });

    it('none: loopback only, no route anywhere', async () => {
      const a = await setup('none', 'n1', spec('none'));
      expect(a.netnsPath).toBe(`/run/netns/${a.netnsName}`);
      const links = await sh('ip', ['-n', a.netnsName, '-br', 'link']);
      expect(
        links
          .trim()
          .split('\n')
          .map((l) => l.split(/\s+/)[0]),
      ).toEqual(['lo']);
      const [outsideR, hostLoR, hostAnyR] = await probeFrom(a.netnsName, [
        { op: 'tcp', host: outside.address, port: 8080 },
        { op: 'tcp', host: '127.0.0.1', port: portOf(hostLo) },
        { op: 'tcp', host: hostLanAddress() ?? '192.0.2.2', port: portOf(hostAny) },
      ]);
      expect(outsideR?.result).toBe('unreachable');
      expect(hostLoR?.result).toBe('refused'); // the netns' own lo: nothing listens there
      expect(hostAnyR?.result).toBe('unreachable');
      expect(await pingFrom(a.netnsName, outside.address)).toBe(false);
    });

    it('internet: the outside is reachable through NAT; host addresses, host loopback and other environments are not', async () => {
      // A machine on a LAN of the host; it must exist before setup (the LANs are read then).
      const lanHost = await createLanNeighbour();
      const lanServer = await startStandIn(lanHost.netns, 'LAN', [7000]).catch(
        async (e: unknown) => {
          await lanHost.remove();
          throw e;
        },
      );
      const a = await setup('inet', 'i1', spec('internet'));
      const other = await setup('inet2', 'i2', spec('internet'));
      const otherServer = await startStandIn(other.netnsName, 'OTHER-ENV', [7000]);
      try {
        const [lanR] = await probeFrom(a.netnsName, [
          { op: 'tcp', host: lanHost.address, port: 7000 },
        ]);
        expect(lanR?.result).toBe('timeout');
        expect(lanServer.log).toEqual([]);
        // The host itself does reach that LAN machine: the block is the environment's rule.
        expect(await pingFrom(undefined, lanHost.address)).toBe(true);
        const lan = hostLanAddress();
        const results = await probeFrom(a.netnsName, [
          { op: 'tcp', host: outside.address, port: 8080, read: true },
          { op: 'udp', host: outside.address, port: 9999, sendHex: '6869' },
          { op: 'tcp', host: a.hostAddress ?? '', port: portOf(hostAny) },
          { op: 'tcp', host: outside.hostAddress, port: portOf(hostAny) },
          { op: 'tcp', host: lan ?? '192.0.2.2', port: portOf(hostAny) },
          { op: 'tcp', host: '127.0.0.1', port: portOf(hostLo) },
          { op: 'tcp', host: other.envAddress ?? '', port: 7000 },
          { op: 'tcp', host: other.hostAddress ?? '', port: portOf(hostAny) },
          { op: 'tcp', host: '169.254.169.254', port: 80 },
        ]);
        const [out, udp, viaVeth, viaOutsideLink, viaLan, loopback, otherEnv, otherVeth, metadata] =
          results;
        expect(out?.data).toContain('OUTSIDE port=8080');
        // Masquerade: the outside sees the host's address on its link, not the environment's.
        expect(out?.data).toContain(`from=${outside.hostAddress}`);
        expect(udp?.result).toBe('reply');
        expect(viaVeth?.result).toBe('timeout');
        expect(viaOutsideLink?.result).toBe('timeout');
        expect(viaLan?.result).toBe('timeout');
        expect(loopback?.result).toBe('refused');
        expect(otherEnv?.result).toBe('timeout');
        expect(otherVeth?.result).toBe('timeout');
        expect(metadata?.result).toBe('timeout');
        expect(otherServer.log).toEqual([]);
        expect(await pingFrom(a.netnsName, outside.address)).toBe(true);
        // The stand-in in the other environment does listen: the block is the network, not the server.
        const [self] = await probeFrom(other.netnsName, [
          { op: 'tcp', host: '127.0.0.1', port: 7000 },
        ]);
        expect(self?.result).toBe('connected');
        expect(await readFile('/proc/sys/net/ipv4/conf/all/route_localnet', 'utf8')).toBe('0\n');
      } finally {
        await otherServer.stop();
        await lanServer.stop();
        await lanHost.remove();
      }
    });

    it('internet: the host DNS servers are reachable on port 53 only, even on a blocked network', async () => {
      const dnsHost = await createLanNeighbour();
      const dnsServer = await startStandIn(dnsHost.netns, 'DNS', [53, 7000], [53]).catch(
        async (e: unknown) => {
          await dnsHost.remove();
          throw e;
        },
      );
      const m = createNetworkManager({
        stateDir,
        internetDnsServers: [dnsHost.address],
      });
      try {
        const a = await m.setup({ id: `inet-dns-${uniq}`, name: 'inet-dns' }, spec('internet'));
        expect(await readFile(a.resolvConfPath, 'utf8')).toBe(`nameserver ${dnsHost.address}\n`);
        const r = await probeFrom(a.netnsName, [
          { op: 'udp', host: dnsHost.address, port: 53, sendHex: dnsQueryHex('example.org') },
          { op: 'tcp', host: dnsHost.address, port: 53 },
          { op: 'tcp', host: dnsHost.address, port: 7000 },
        ]);
        expect(r.map((x) => x.result)).toEqual(['reply', 'connected', 'timeout']);
      } finally {
        await m.dispose();
        await dnsServer.stop();
        await dnsHost.remove();
      }
    });

    it('allowlist: only listed names leave, by SNI and by Host, through the proxy; DNS answers only them', async () => {
      const a = await setup(
        'allow',
        'a1',
        spec('allowlist', ['allowed.test', '*.wild.test', 'rebind.test']),
      );
      const other = await setup('allow2', 'a2', spec('internet'));
      const otherServer = await startStandIn(other.netnsName, 'OTHER-ENV', [7000]);
      const h = a.hostAddress ?? '';
      const outsideBefore = outsideServer.log.length;
      expect(await readFile(a.resolvConfPath, 'utf8')).toContain(`nameserver ${h}`);
      const [helloAllowed, helloDenied, helloWild, helloRebind] = await Promise.all([
        captureClientHello('allowed.test'),
        captureClientHello('denied.test'),
        captureClientHello('api.wild.test'),
        captureClientHello('rebind.test'),
      ]);
      try {
        const results = await probeFrom(a.netnsName, [
          { op: 'udp', host: h, port: 53, sendHex: dnsQueryHex('allowed.test') },
          { op: 'udp', host: h, port: 53, sendHex: dnsQueryHex('denied.test') },
          { op: 'udp', host: h, port: 53, sendHex: dnsQueryHex('x.wild.test') },
          { op: 'udp', host: h, port: 53, sendHex: dnsQueryHex('wild.test') },
          { op: 'tcp', host: h, port: 443, sendHex: helloAllowed, read: true },
          { op: 'tcp', host: h, port: 443, sendHex: helloDenied, read: true },
          { op: 'tcp', host: h, port: 443, sendHex: helloWild, read: true },
          { op: 'tcp', host: h, port: 443, sendHex: helloRebind, read: true },
          { op: 'tcp', host: h, port: 80, sendHex: httpGetHex('allowed.test'), read: true },
          { op: 'tcp', host: h, port: 80, sendHex: httpGetHex('denied.test'), read: true },
          // A hard-coded address on 443 still goes through the proxy and its SNI check.
          { op: 'tcp', host: outside.address, port: 443, sendHex: helloDenied, read: true },
        ]);
        const [
          dAllowed,
          dDenied,
          dWild,
          dWildApex,
          tAllowed,
          tDenied,
          tWild,
          tRebind,
          hAllowed,
          hDenied,
          tDirect,
        ] = results;
        expect(readDnsAnswer(dAllowed?.data ?? '')).toEqual({ rcode: 0, address: h });
        expect(readDnsAnswer(dDenied?.data ?? '').rcode).toBe(3);
        expect(readDnsAnswer(dWild?.data ?? '')).toEqual({ rcode: 0, address: h });
        expect(readDnsAnswer(dWildApex?.data ?? '').rcode).toBe(3);
        expect(tAllowed?.data).toContain('OUTSIDE port=443');
        expect(tDenied?.data).toBe('');
        expect(['closed', 'error:ECONNRESET']).toContain(tDenied?.result);
        expect(tWild?.data).toContain('OUTSIDE port=443');
        expect(tRebind?.data).toBe(''); // allowed name resolving to 127.0.0.1: refused by the proxy
        expect(hAllowed?.data).toContain('OUTSIDE port=80');
        expect(hDenied?.data).toContain('403 Forbidden');
        expect(tDirect?.data).toBe('');

        const blocked = await probeFrom(a.netnsName, [
          { op: 'tcp', host: outside.address, port: 8080 },
          { op: 'udp', host: outside.address, port: 9999, sendHex: '6869' },
          { op: 'tcp', host: h, port: portOf(hostAny) },
          { op: 'tcp', host: hostLanAddress() ?? '192.0.2.2', port: portOf(hostAny) },
          { op: 'tcp', host: '127.0.0.1', port: portOf(hostLo) },
          { op: 'tcp', host: other.envAddress ?? '', port: 7000 },
          { op: 'udp', host: '9.9.9.9', port: 53, sendHex: dnsQueryHex('denied.test') },
        ]);
        expect(blocked.map((r) => r.result)).toEqual([
          'timeout',
          'timeout',
          'timeout',
          'timeout',
          'refused',
          'timeout',
          'reply', // any resolver address is redirected to our responder ...
        ]);
        expect(readDnsAnswer(blocked[6]?.data ?? '').rcode).toBe(3); // ... which says NXDOMAIN
        expect(otherServer.log).toEqual([]);
        expect(
          outsideServer.log.slice(outsideBefore).filter((l) => l.startsWith('conn 8080')),
        ).toEqual([]);
        // Exactly the three allowed requests (allowed.test TLS, api.wild.test TLS, allowed.test HTTP)
        // reached the outside, all from the host (the proxy), none from the environment itself.
        expect(outsideServer.log.slice(outsideBefore).sort()).toEqual(
          [
            `conn 443 ${outside.hostAddress}`,
            `conn 443 ${outside.hostAddress}`,
            `conn 80 ${outside.hostAddress}`,
          ].sort(),
        );
        expect(await pingFrom(a.netnsName, outside.address)).toBe(false);
      } finally {
        await otherServer.stop();
      }
    });

    it('tor: all TCP goes to the TransPort, DNS to the DNSPort, nothing else leaves', async () => {
      const a = await setup('tor', 't1', spec('tor'));
      const before = outsideServer.log.length;
      const results = await probeFrom(a.netnsName, [
        { op: 'tcp', host: outside.address, port: 8080, read: true },
        { op: 'tcp', host: outside.address, port: 443, read: true },
        { op: 'tcp', host: a.hostAddress ?? '', port: portOf(hostAny), read: true },
        { op: 'tcp', host: hostLanAddress() ?? '192.0.2.2', port: portOf(hostAny), read: true },
        { op: 'udp', host: outside.address, port: 53, sendHex: dnsQueryHex('example.org') },
        { op: 'udp', host: outside.address, port: 9999, sendHex: '6869' },
        { op: 'tcp', host: '127.0.0.1', port: portOf(hostLo) },
      ]);
      const [t8080, t443, tHostVeth, tHostLan, dns, udp, loopback] = results;
      for (const r of [t8080, t443, tHostVeth, tHostLan]) expect(r?.data).toContain('TOR-TRANS');
      expect(dns?.data).toBe(Buffer.from('TOR-DNS').toString('hex'));
      expect(udp?.result).toBe('timeout');
      expect(loopback?.result).toBe('refused');
      expect(outsideServer.log.slice(before)).toEqual([]);
      expect(torTrans?.log.filter((l) => l.includes(a.envAddress ?? '?')).length).toBe(4);
      expect(await pingFrom(a.netnsName, outside.address)).toBe(false);
      expect(await pingFrom(a.netnsName, a.hostAddress ?? '')).toBe(false);
    });

    it('tor: the redirect keeps the original destination for the TransPort (SO_ORIGINAL_DST)', async (ctx) => {
      const orig = await startOriginalDstStandIn();
      if (!orig) ctx.skip('python3 is not installed (needed to read SO_ORIGINAL_DST)');
      const m = createNetworkManager({
        stateDir,
        tor: { transPort: orig?.port ?? 0, dnsPort: torDnsPort },
      });
      try {
        const a = await m.setup({ id: `tor-orig-${uniq}`, name: 'tor-orig' }, spec('tor'));
        const [r] = await probeFrom(a.netnsName, [
          { op: 'tcp', host: outside.address, port: 8080, read: true },
        ]);
        // A real Tor client would now open a circuit to exactly this address and port.
        expect(r?.data).toBe(
          `ORIG ${outside.address}:8080 from=${a.envAddress} to=${a.hostAddress}\n`,
        );
      } finally {
        await m.dispose();
        await orig?.stop();
      }
    });

    it('tor: with a dedicated Tor address the traffic is DNATed there, original destination kept', async (ctx) => {
      const orig = await startOriginalDstStandIn();
      if (!orig) ctx.skip('python3 is not installed (needed to read SO_ORIGINAL_DST)');
      // The host end of the outside link stands in for a dedicated, non-loopback Tor address. The
      // DNS stand-in binds that address, as Tor's DNSPort would: a UDP reply must come from the
      // address the query was DNATed to, or conntrack cannot map it back.
      const dns = createSocket('udp4');
      dns.on('message', (_m, r) => dns.send(Buffer.from('TOR-DNS'), r.port, r.address));
      await new Promise<void>((r) => dns.bind(0, outside.hostAddress, r));
      const m = createNetworkManager({
        stateDir,
        tor: {
          transPort: orig?.port ?? 0,
          dnsPort: dns.address().port,
          address: outside.hostAddress,
        },
      });
      try {
        const a = await m.setup({ id: `tor-dnat-${uniq}`, name: 'tor-dnat' }, spec('tor'));
        const r = await probeFrom(a.netnsName, [
          { op: 'tcp', host: outside.address, port: 443, read: true },
          { op: 'udp', host: '192.0.2.53', port: 53, sendHex: dnsQueryHex('example.org') },
          { op: 'tcp', host: outside.hostAddress, port: portOf(hostAny), read: true },
        ]);
        expect(r[0]?.data).toBe(
          `ORIG ${outside.address}:443 from=${a.envAddress} to=${outside.hostAddress}\n`,
        );
        expect(r[1]?.data).toBe(Buffer.from('TOR-DNS').toString('hex'));
        // Even the Tor address's other ports are not reachable: every TCP goes to the TransPort.
        expect(r[2]?.data).toContain(`ORIG ${outside.hostAddress}:${portOf(hostAny)}`);
      } finally {
        await m.dispose();
        await orig?.stop();
        dns.close();
      }
    });

    it('peers: environments that name each other share a private link; a one-sided name does not', async () => {
      const a = await setup('pa', 'peer-a', spec('none', [], ['peer-b']));
      const c = await setup('pc', 'peer-c', spec('none', [], ['peer-a'])); // one-sided
      const b = await setup('pb', 'peer-b', spec('internet', [], ['peer-a']));
      const d = await setup('pd', 'peer-d', spec('tor', [], ['lab']), ['lab']);
      const e = await setup('pe', 'peer-e', spec('allowlist', ['allowed.test'], ['lab']), ['lab']);
      const servers = await Promise.all([
        startStandIn(b.netnsName, 'PEER-B', [7000]),
        startStandIn(a.netnsName, 'PEER-A', [7000]),
        startStandIn(e.netnsName, 'PEER-E', [7000]),
      ]);
      try {
        const bAddr = a.peers().get('peer-b');
        const aAddr = b.peers().get('peer-a');
        expect(bAddr).toBeDefined();
        expect(aAddr).toBeDefined();
        expect(c.peers().size).toBe(0);
        expect(await readFile(a.hostsPath, 'utf8')).toContain(`${bAddr}\tpeer-b`);
        const [aToB] = await probeFrom(a.netnsName, [
          { op: 'tcp', host: bAddr ?? '', port: 7000, read: true },
        ]);
        const [bToA] = await probeFrom(b.netnsName, [
          { op: 'tcp', host: aAddr ?? '', port: 7000, read: true },
        ]);
        expect(aToB?.data).toContain('PEER-B');
        expect(bToA?.data).toContain('PEER-A');
        const fromC = await probeFrom(c.netnsName, [
          { op: 'tcp', host: bAddr ?? '', port: 7000 },
          { op: 'tcp', host: aAddr ?? '', port: 7000 },
        ]);
        expect(fromC.map((r) => r.result)).toEqual(['unreachable', 'unreachable']);
        // B's internet uplink does not carry peer traffic of others: D cannot reach A or B.
        const fromD = await probeFrom(d.netnsName, [
          { op: 'tcp', host: bAddr ?? '', port: 7000, read: true },
        ]);
        // D's TCP to B's peer address goes to Tor (its only way out), never to B.
        expect(fromD[0]?.data).toContain('TOR-TRANS');
        // Group "lab": D and E are linked even though neither names the other directly.
        const eAddr = d.peers().get('peer-e');
        const [dToE] = await probeFrom(d.netnsName, [
          { op: 'tcp', host: eAddr ?? '', port: 7000, read: true },
        ]);
        expect(dToE?.data).toContain('PEER-E');
        expect(servers[0]?.log.every((l) => !l.includes(d.envAddress ?? '?'))).toBe(true);
        // Disposing B removes the link from A and the hosts entry.
        await b.dispose();
        expect(a.peers().size).toBe(0);
        expect(await readFile(a.hostsPath, 'utf8')).not.toContain('peer-b');
        const aLinks = await sh('ip', ['-n', a.netnsName, '-br', 'link']);
        expect(aLinks).not.toMatch(/vp-/);
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
      }
    });

    it('peers set up concurrently are linked exactly once', async () => {
      const [x, y] = await Promise.all([
        setup('cx', 'conc-x', spec('internet', [], ['conc-y'])),
        setup('cy', 'conc-y', spec('allowlist', ['allowed.test'], ['conc-x'])),
      ]);
      const xLinks = await sh('ip', ['-n', x.netnsName, '-br', 'link']);
      expect(xLinks.match(/^vp-/gm)?.length).toBe(1);
      const server = await startStandIn(y.netnsName, 'CONC-Y', [7000]);
      try {
        const [r] = await probeFrom(x.netnsName, [
          { op: 'tcp', host: x.peers().get('conc-y') ?? '', port: 7000, read: true },
        ]);
        expect(r?.data).toContain('CONC-Y');
      } finally {
        await server.stop();
        await Promise.all([x.dispose(), y.dispose()]);
      }
    });

    it('dispose removes everything of an environment, exactly and idempotently', async () => {
      for (const mode of ['none', 'allowlist', 'internet', 'tor'] as const) {
        const a = await setup(
          `gone-${mode}`,
          `gone-${mode}`,
          spec(mode, mode === 'allowlist' ? ['allowed.test'] : []),
        );
        expect(await kernelState()).toContain(a.netnsName);
        const t = performance.now();
        await a.dispose();
        const entry = timings[`${mode}:gone-${mode}`];
        if (entry) entry.disposeMs = Math.round(performance.now() - t);
        await a.dispose();
        expect(await kernelState()).not.toContain(a.netnsName.slice('virtos-'.length));
        await expect(readFile(a.resolvConfPath)).rejects.toThrow();
      }
    });

    it('the host listeners (127.0.0.1 and 0.0.0.0) never saw a connection from any environment', () => {
      expect(seenBy.get(hostLo)).toEqual([]);
      expect(seenBy.get(hostAny)).toEqual([]);
    });

    it('cleanupLeftovers removes what a crashed manager left behind, and nothing that is live', async () => {
      const crashedDir = await mkdtemp(join(tmpdir(), 'virtos-net-crash-'));
      const crashed = createNetworkManager({
        stateDir: crashedDir,
      });
      const survivor = createNetworkManager({
        stateDir: crashedDir,
      });
      try {
        const dead = await crashed.setup(
          { id: `dead-${uniq}`, name: 'dead' },
          spec('allowlist', ['allowed.test']),
        );
        const alive = await crashed.setup({ id: `alive-${uniq}`, name: 'alive' }, spec('internet'));
        // "Crash": the crashed manager is simply forgotten; a new one with the same stateDir cleans up.
        const removed = await survivor.cleanupLeftovers([`alive-${uniq}`]);
        expect(removed).toEqual(
          expect.arrayContaining([
            `netns:${dead.netnsName}`,
            `link:${dead.netnsName}`,
            `nft:inet ${dead.netnsName}`,
          ]),
        );
        const state = await kernelState();
        expect(state).not.toContain(dead.netnsName);
        expect(state).toContain(alive.netnsName);
        expect(await survivor.cleanupLeftovers([`alive-${uniq}`])).toEqual([]);
        await alive.dispose();
      } finally {
        await crashed.dispose();
        await survivor.dispose();
        await rm(crashedDir, { recursive: true, force: true });
      }
    });

    it('adopt enforces the allowlist in force at setup, not a changed desired spec', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'virtos-net-adopt-'));
      const resolver = { resolve4: async () => [outside.address] };
      const before = createNetworkManager({ stateDir: dir, resolver });
      const after = createNetworkManager({ stateDir: dir, resolver });
      const env = { id: `adopt-${uniq}`, name: 'adopt' };
      try {
        const a = await before.setup(env, spec('allowlist', ['allowed.test']));
        // The next daemon's manager adopts it while the registry already holds a modified spec
        // (saved as desired, "restart-needed"): the running environment keeps its old network.
        const b = await after.adopt(env, spec('allowlist', ['denied.test']));
        const h = b.hostAddress ?? '';
        expect(h).toBe(a.hostAddress);
        const [dAllowed, dDenied] = await probeFrom(b.netnsName, [
          { op: 'udp', host: h, port: 53, sendHex: dnsQueryHex('allowed.test') },
          { op: 'udp', host: h, port: 53, sendHex: dnsQueryHex('denied.test') },
        ]);
        expect(readDnsAnswer(dAllowed?.data ?? '')).toEqual({ rcode: 0, address: h });
        expect(readDnsAnswer(dDenied?.data ?? '').rcode).toBe(3);
        await b.dispose();
        await a.dispose();
      } finally {
        await after.dispose();
        await before.dispose();
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);
