/**
 * The network modes seen from a REAL container: an OCI bundle that joins `attachment.netnsPath`,
 * bind-mounts `attachment.resolvConfPath` onto /etc/resolv.conf, runs as uid 65534 with no
 * capabilities, under crun, runc and gVisor (runsc). This is the wiring the runtime driver uses.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { NetworkSpec } from '@virtos/spec';

import { createNetworkManager, type NetworkAttachment, type NetworkManager } from './manager.js';
import {
  captureClientHello,
  createOutsideWorld,
  probeCommand,
  startStandIn,
  type OutsideWorld,
  type Probe,
  type ProbeResult,
  type StandIn,
} from './net-test-kit.js';

const isRoot = process.getuid?.() === 0;

function which(bin: string): Promise<boolean> {
  return new Promise((resolve) => execFile('which', [bin], (e) => resolve(!e)));
}

/**
 * runsc runs with `--network=host`: the sandbox then uses the network namespace it was started in,
 * which is the one from the bundle. (`--network=sandbox` of the Debian runsc 2022 build refuses any
 * netns on kernels where net.core.rmem_default is per-namespace, as here: it mistakes it for the
 * root namespace.)
 */
const RUNTIMES: { name: string; argv: (bundle: string, id: string) => string[] }[] = [
  { name: 'crun', argv: (b, id) => ['crun', 'run', '--bundle', b, id] },
  { name: 'runc', argv: (b, id) => ['runc', 'run', '--bundle', b, id] },
  { name: 'runsc', argv: (b, id) => ['runsc', '--network=host', 'run', '--bundle', b, id] },
];

/** A minimal bundle: host /usr, /lib, /etc read-only (for node), nothing else of the host. */
function bundleConfig(a: NetworkAttachment, args: string[]): object {
  const ro = (d: string) => ({ destination: d, type: 'bind', source: d, options: ['rbind', 'ro'] });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 65534, gid: 65534 },
      args,
      env: ['PATH=/usr/bin:/bin'],
      cwd: '/',
      capabilities: { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'probe',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] },
      ...['/usr', '/lib', '/lib64', '/bin', '/etc'].map(ro),
      {
        destination: '/etc/resolv.conf',
        type: 'bind',
        source: a.resolvConfPath,
        options: ['rbind', 'ro'],
      },
      { destination: '/etc/hosts', type: 'bind', source: a.hostsPath, options: ['rbind', 'ro'] },
    ],
    linux: {
      namespaces: [
        { type: 'pid' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'network', path: a.netnsPath },
      ],
    },
  };
}

async function probeInContainer(
  runtime: (typeof RUNTIMES)[number],
  a: NetworkAttachment,
  probes: readonly Probe[],
): Promise<ProbeResult[]> {
  const bundle = await mkdtemp(join(tmpdir(), 'virtos-net-bundle-'));
  const id = `virtos-probe-${process.pid}-${Date.now().toString(36)}`;
  try {
    await mkdir(join(bundle, 'rootfs'));
    await writeFile(
      join(bundle, 'config.json'),
      JSON.stringify(bundleConfig(a, probeCommand(probes))),
    );
    const [file, ...args] = runtime.argv(bundle, id);
    const out = await new Promise<string>((resolve, reject) => {
      execFile(file ?? '', args, { timeout: 60_000 }, (e, stdout, stderr) => {
        if (e) reject(new Error(`${runtime.name}: ${stderr || e.message}`));
        else resolve(stdout);
      });
    });
    return JSON.parse(out.slice(out.indexOf('['))) as ProbeResult[];
  } finally {
    await new Promise<void>((r) => execFile(runtime.name, ['delete', '--force', id], () => r()));
    await rm(bundle, { recursive: true, force: true });
  }
}

const spec = (mode: NetworkSpec['mode'], allow: string[] = []): NetworkSpec => ({
  mode,
  allow,
  peers: [],
});

describe.skipIf(!isRoot)(
  'network modes inside real containers (root; skipped when not root)',
  () => {
    let stateDir: string;
    let manager: NetworkManager;
    let outside: OutsideWorld;
    let outsideServer: StandIn;
    let torTrans: StandIn;
    let hostAny: Server;
    let torPort = 0;
    const available: (typeof RUNTIMES)[number][] = [];

    beforeAll(async () => {
      for (const r of RUNTIMES) if (await which(r.name)) available.push(r);
      stateDir = await mkdtemp(join(tmpdir(), 'virtos-net-ct-'));
      outside = await createOutsideWorld();
      outsideServer = await startStandIn(outside.netns, 'OUTSIDE', [443, 8080]);
      hostAny = createServer((s) => s.end('HOST-ANY\n'));
      await new Promise<void>((r) => hostAny.listen(0, '0.0.0.0', r));
      const free = createServer();
      await new Promise<void>((r) => free.listen(0, '0.0.0.0', r));
      torPort = (free.address() as AddressInfo).port;
      free.close();
      torTrans = await startStandIn(undefined, 'TOR-TRANS', [torPort]);
      manager = createNetworkManager({
        stateDir,
        tor: { transPort: torPort, dnsPort: torPort },
        internetDnsServers: [],
        resolver: { resolve4: async (h) => (h.endsWith('.test') ? [outside.address] : []) },
      });
    });

    afterAll(async () => {
      await manager?.dispose();
      await outsideServer?.stop();
      await torTrans?.stop();
      hostAny?.close();
      await outside?.remove();
      await rm(stateDir, { recursive: true, force: true });
    });

    for (const runtime of RUNTIMES) {
      it(`${runtime.name}: each mode allows what it should and nothing else`, async (ctx) => {
        if (!available.includes(runtime)) ctx.skip(`${runtime.name} is not installed`);
        const hostPort = (hostAny.address() as AddressInfo).port;
        const hello = await captureClientHello('allowed.test');
        const deniedHello = await captureClientHello('denied.test');

        const none = await manager.setup(
          { id: `ct-none-${runtime.name}`, name: 'n' },
          spec('none'),
        );
        const [noneOut] = await probeInContainer(runtime, none, [
          { op: 'tcp', host: outside.address, port: 8080 },
        ]);
        expect(noneOut?.result).toBe('unreachable');
        await none.dispose();

        const allow = await manager.setup(
          { id: `ct-allow-${runtime.name}`, name: 'a' },
          spec('allowlist', ['allowed.test']),
        );
        const h = allow.hostAddress ?? '';
        const allowR = await probeInContainer(runtime, allow, [
          { op: 'lookup', host: 'allowed.test' },
          { op: 'lookup', host: 'denied.test' },
          { op: 'tcp', host: 'allowed.test', port: 443, sendHex: hello, read: true },
          { op: 'tcp', host: h, port: 443, sendHex: deniedHello, read: true },
          { op: 'tcp', host: outside.address, port: 8080 },
          { op: 'tcp', host: h, port: hostPort },
        ]);
        expect(allowR[0]).toMatchObject({ result: 'resolved', data: h });
        expect(allowR[1]?.result).toBe('error:ENOTFOUND');
        // 'allowed.test' is resolved by the container through the mounted resolv.conf.
        expect(allowR[2]?.data).toContain('OUTSIDE port=443');
        expect(allowR[3]?.data).toBe('');
        expect(allowR[4]?.result).toBe('timeout');
        expect(allowR[5]?.result).toBe('timeout');
        await allow.dispose();

        const inet = await manager.setup(
          { id: `ct-inet-${runtime.name}`, name: 'i' },
          spec('internet'),
        );
        const inetR = await probeInContainer(runtime, inet, [
          { op: 'tcp', host: outside.address, port: 8080, read: true },
          { op: 'tcp', host: inet.hostAddress ?? '', port: hostPort },
          { op: 'tcp', host: outside.hostAddress, port: hostPort },
          // The host's service listens on every address, 127.0.0.1 included; inside, 127.0.0.1 is
          // the environment's own loopback, where nothing listens.
          { op: 'tcp', host: '127.0.0.1', port: hostPort },
        ]);
        expect(inetR[0]?.data).toContain('OUTSIDE port=8080');
        expect(inetR.slice(1, 3).map((r) => r.result)).toEqual(['timeout', 'timeout']);
        expect(inetR[3]?.result).toBe('refused');
        await inet.dispose();

        const tor = await manager.setup({ id: `ct-tor-${runtime.name}`, name: 't' }, spec('tor'));
        const torR = await probeInContainer(runtime, tor, [
          { op: 'tcp', host: outside.address, port: 8080, read: true },
          { op: 'udp', host: outside.address, port: 9999, sendHex: '6869' },
        ]);
        expect(torR[0]?.data).toContain('TOR-TRANS');
        expect(torR[1]?.result).toBe('timeout');
        await tor.dispose();
      });
    }
  },
);
