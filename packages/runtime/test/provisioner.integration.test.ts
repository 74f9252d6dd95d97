/**
 * The Provisioner on real parts: the images package's Debian layers (shared test cache
 * VIRTOS_TEST_IMAGE_CACHE), real overlay mounts, the network manager's namespaces and egress proxy,
 * and the oci driver (crun, else runc; runsc for microvm). Specs are literal objects (the runtime
 * package does not depend on the composer).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImageStore } from '@virtos/images';
import { createNetworkManager, type NetworkManager } from '@virtos/sandbox';
import type { EnvironmentSpec } from '@virtos/spec';
import type { Provisioner } from '../src/common/provisioner.js';
import { OciDriver } from '../src/node/oci/oci-driver.js';
import { cleanupLeftovers } from '../src/node/cleanup.js';
import { createProvisioner } from '../src/node/provisioner.js';
import { RfbSession } from '../src/node/rfb/rfb-client.js';
import { isRoot, leftoversOf, testStateDir, usableRuntimes } from './helpers.js';

const run = promisify(execFile);
const CACHE = process.env['VIRTOS_TEST_IMAGE_CACHE'] ?? '/var/cache/virtos-test/images';
const probes = isRoot ? await usableRuntimes() : undefined;
const containerRuntime = (['crun', 'runc'] as const).find((r) => probes?.[r].status === 'ok');
const runscOk = probes?.runsc.status === 'ok';
const ctx = () => ({ signal: AbortSignal.timeout(180_000) });

/**
 * A stand-in upstream "on the internet": port 80 on an address of a host-only veth pair (this kernel
 * has no dummy interfaces), so nothing leaves the machine.
 */
const UPSTREAM = '198.18.251.1';
const VETH = `virtos-up${randomBytes(2).toString('hex')}`;

function spec(over: Partial<EnvironmentSpec> & Pick<EnvironmentSpec, 'name'>): EnvironmentSpec {
  return {
    version: 1,
    base: { distro: 'debian', release: 'bookworm' },
    runtime: 'container',
    display: 'terminal',
    apps: [],
    network: { mode: 'none', allow: [], peers: [] },
    resources: { cpus: 1, memoryMiB: 512, diskMiB: 512, gpus: 0 },
    persistence: 'ephemeral',
    security: {
      isolation: 'standard',
      capabilities: [],
      seccompProfile: 'default',
      readOnlyRoot: true,
    },
    lifetime: { ttlMinutes: null, idleSuspendMinutes: null },
    priority: 'normal',
    ...over,
  } as EnvironmentSpec;
}

const newId = (p: string) => `virtos-${p}-${randomBytes(4).toString('hex')}`;
const netnsOf = (id: string) =>
  `virtos-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;

/** Everything of `id` still on the host: driver leftovers, netns, mounts under the state dir. */
async function traces(driver: OciDriver, stateDir: string, id: string): Promise<string[]> {
  const found = await leftoversOf(driver, id);
  const { stdout } = await run('ip', ['netns', 'list']);
  if (stdout.includes(netnsOf(id))) found.push(`netns: ${netnsOf(id)}`);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(join(stateDir, 'roots', id))) found.push(`mount: ${line}`);
  }
  if (existsSync(join(stateDir, 'envs', `${id}.json`))) found.push('record');
  return found;
}

describe.skipIf(!isRoot || !containerRuntime)('provisioner (real images, network, runtime)', () => {
  const base = testStateDir();
  const stateDir = join(base, 'prov');
  const driverDir = join(base, 'rt');
  const netDir = join(base, 'net');
  const images = createImageStore({ cacheDir: CACHE });
  const upstreamHosts: string[] = [];
  let upstream: Server | undefined;
  let upstream8081: Server | undefined;
  const managers: NetworkManager[] = [];
  const provisioners: { p: Provisioner; ids: Set<string> }[] = [];

  function makeProvisioner(): { p: Provisioner; driver: OciDriver; ids: Set<string> } {
    const rt = containerRuntime as 'crun' | 'runc';
    const driver = new OciDriver({
      runtime: rt,
      binary: probes?.[rt].binary as string,
      stateDir: driverDir,
    });
    const microvm = runscOk
      ? new OciDriver({
          runtime: 'runsc',
          binary: probes?.runsc.binary as string,
          stateDir: driverDir,
        })
      : undefined;
    const network = createNetworkManager({
      stateDir: netDir,
      // Every *.test name is the stand-in upstream; the proxy may reach only that address.
      resolver: { resolve4: async (h) => (h.endsWith('.test') ? [UPSTREAM] : []) },
      isForbiddenUpstream: (ip) => ip !== UPSTREAM,
    });
    managers.push(network);
    const p = createProvisioner({
      stateDir,
      images,
      network,
      drivers: { container: driver, ...(microvm && { microvm }) },
    });
    const ids = new Set<string>();
    provisioners.push({ p, ids });
    return { p, driver, ids };
  }

  beforeAll(async () => {
    await run('ip', ['link', 'add', VETH, 'type', 'veth', 'peer', 'name', `${VETH}p`]);
    await run('ip', ['addr', 'add', `${UPSTREAM}/32`, 'dev', VETH]);
    await run('ip', ['link', 'set', VETH, 'up']);
    const server = createServer((req, res) => {
      upstreamHosts.push(req.headers.host ?? '');
      res.end('virtos-upstream-ok\n');
    });
    upstream = server;
    await new Promise<void>((r) => server.listen(80, UPSTREAM, r));
    const other = createServer((req, res) => {
      upstreamHosts.push(`8081:${req.headers.host ?? ''}`);
      res.end('virtos-upstream-ok\n');
    });
    upstream8081 = other;
    await new Promise<void>((r) => other.listen(8081, UPSTREAM, r));
    // Warm the layers once (built by the images tests; reused here).
    await images.ensure({
      distro: 'debian',
      release: 'bookworm',
      display: 'desktop',
      packages: [],
    });
  }, 600_000);

  afterAll(async () => {
    for (const { p, ids } of provisioners) {
      for (const id of ids) await p.teardown(ctx(), id).catch(() => undefined);
    }
    for (const m of managers) await m.dispose().catch(() => undefined);
    for (const srv of [upstream, upstream8081]) if (srv) await new Promise((r) => srv.close(r));
    await run('ip', ['link', 'del', VETH]).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  }, 120_000);

  it('a terminal environment with network none: exec runs as uid 1000, loopback only; teardown leaves nothing', async () => {
    const { p, driver, ids } = makeProvisioner();
    const id = newId('term');
    ids.add(id);
    const phases: string[] = [];
    const env = await p.provision(ctx(), { id, spec: spec({ name: 'term' }) }, (pr) =>
      phases.push(pr.phase),
    );
    expect(env.status.state).toBe('running');
    expect(env.runtime.kind).toBe(driver.kind);
    expect(env.runtime.substitution).toBeUndefined();
    expect([...new Set(phases)]).toEqual(['image', 'rootfs', 'create', 'start']);
    const r = await p.exec(ctx(), id, {
      args: ['/bin/sh', '-c', 'id -u; ls /sys/class/net; touch /tmp/x && echo writable'],
    });
    expect(r.stdout).toBe('1000\nlo\nwritable\n');
    expect(await p.list(ctx())).toContain(id);
    expect((await p.suspend(ctx(), id)).state).toBe('paused');
    expect((await p.resume(ctx(), id)).state).toBe('running');
    await p.teardown(ctx(), id);
    await p.teardown(ctx(), id); // idempotent
    expect(await traces(driver, stateDir, id)).toEqual([]);
    expect(await p.list(ctx())).not.toContain(id);
    await expect(p.status(ctx(), id)).rejects.toMatchObject({ code: 'runtime.not_found' });
  });

  it('a desktop with xterm reaches display-ready and answers RFB', async () => {
    const { p, driver, ids } = makeProvisioner();
    const id = newId('desk');
    ids.add(id);
    const env = await p.provision(ctx(), {
      id,
      spec: spec({ name: 'desk', display: 'desktop' }),
    });
    expect(env.display).toMatchObject({ protocol: 'rfb', width: 1280, height: 800 });
    const s = await RfbSession.connect(
      env.display?.socketPath as string,
      AbortSignal.timeout(10_000),
    );
    try {
      expect(s.init.width).toBe(1280);
      const frame = await s.readFrame();
      expect(frame.rgbx.length).toBe(1280 * 800 * 4);
    } finally {
      s.close();
    }
    // xterm is always launched on a desktop.
    let ps = '';
    for (let i = 0; i < 100 && !/xterm/.test(ps); i++) {
      ps = (await p.exec(ctx(), id, { args: ['ps', '-eo', 'comm'] })).stdout;
    }
    expect(ps).toMatch(/xterm/);
    await p.teardown(ctx(), id);
    expect(await traces(driver, stateDir, id)).toEqual([]);
  });

  it('an allowlist environment in a real container reaches the upstream only by the allowed name', async () => {
    const { p, driver, ids } = makeProvisioner();
    const id = newId('allow');
    ids.add(id);
    await p.provision(ctx(), {
      id,
      spec: spec({
        name: 'allow',
        network: { mode: 'allowlist', allow: ['allowed.test'], peers: [] },
      }),
    });
    const get = (host: string, target = host, port = 80) =>
      p.exec(ctx(), id, {
        args: [
          '/usr/bin/timeout',
          '5',
          '/bin/bash',
          '-c',
          `exec 3<>/dev/tcp/${target}/${port} && printf 'GET / HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n' >&3 && cat <&3`,
        ],
      });
    const before = upstreamHosts.length;
    const allowed = await get('allowed.test');
    expect(allowed.stdout).toContain('virtos-upstream-ok');
    // A denied name does not resolve; asking the proxy for it by Host is refused.
    const denied = await get('denied.test');
    expect(denied.exitCode).not.toBe(0);
    expect(denied.stdout).not.toContain('virtos-upstream-ok');
    const resolved = (
      await p.exec(ctx(), id, { args: ['getent', 'hosts', 'allowed.test'] })
    ).stdout.split(/\s+/)[0] as string;
    const byHost = await get('denied.test', resolved);
    expect(byHost.stdout).not.toContain('virtos-upstream-ok');
    // The upstream address directly: port 80 is the proxy too (it goes by Host), any other port
    // is dropped.
    const direct = await get('denied.test', UPSTREAM);
    expect(direct.stdout).not.toContain('virtos-upstream-ok');
    const otherPort = await get('allowed.test', UPSTREAM, 8081);
    expect(otherPort.exitCode).not.toBe(0);
    expect(otherPort.stdout).not.toContain('virtos-upstream-ok');
    expect(upstreamHosts.slice(before)).toEqual(['allowed.test']);
    await p.teardown(ctx(), id);
    expect(await traces(driver, stateDir, id)).toEqual([]);
  });

  it('a fresh provisioner over the same stateDir finds what a "crashed" one left running, and tears it down', async () => {
    const a = makeProvisioner();
    const id = newId('crash');
    a.ids.add(id);
    await a.p.provision(ctx(), {
      id,
      spec: spec({ name: 'crash', network: { mode: 'internet', allow: [], peers: [] } }),
    });
    // "Crash": instance a is abandoned; b knows the environment only from the records on disk.
    // The environment outlives its process (detached shim): b sees it running.
    const b = makeProvisioner();
    expect(await b.p.list(ctx())).toContain(id);
    expect((await b.p.status(ctx(), id)).state).toBe('running');
    // `virtos doctor` does not count a live environment as a leftover (its runtime supervises it).
    const seen = await cleanupLeftovers({
      stateDir: driverDir,
      provisionerStateDir: stateDir,
      remove: false,
    });
    expect(seen.filter((l) => l.name.includes(id))).toEqual([]);
    await b.p.teardown(ctx(), id);
    expect(await traces(b.driver, stateDir, id)).toEqual([]);
    expect(await b.p.list(ctx())).not.toContain(id);
    // Nothing under the state dir's roots remains either.
    expect(readdirSync(join(stateDir, 'roots')).filter((n) => n.includes(id))).toEqual([]);
  });

  it.skipIf(!runscOk)(
    'a microvm terminal runs under gVisor (substitution finding) inside its allowlist netns',
    async () => {
      const { p, ids } = makeProvisioner();
      const id = newId('gvisor');
      ids.add(id);
      const env = await p.provision(ctx(), {
        id,
        spec: spec({
          name: 'gvisor',
          runtime: 'microvm',
          network: { mode: 'allowlist', allow: ['allowed.test'], peers: [] },
        }),
      });
      expect(env.runtime.kind).toBe('oci.runsc/v1');
      expect(env.runtime.substitution).toMatchObject({ kind: 'substitution', field: 'runtime' });
      const before = upstreamHosts.length;
      const r = await p.exec(ctx(), id, {
        args: [
          '/usr/bin/timeout',
          '5',
          '/bin/bash',
          '-c',
          `id -u; exec 3<>/dev/tcp/allowed.test/80 && printf 'GET / HTTP/1.0\\r\\nHost: allowed.test\\r\\n\\r\\n' >&3 && cat <&3`,
        ],
      });
      expect(r.stdout).toMatch(/^1000\n/);
      expect(r.stdout).toContain('virtos-upstream-ok');
      expect(upstreamHosts.slice(before)).toEqual(['allowed.test']);
      await p.teardown(ctx(), id);
      expect(await p.list(ctx())).not.toContain(id);
      const { stdout } = await run('ip', ['netns', 'list']);
      expect(stdout).not.toContain(netnsOf(id));
    },
  );

  it('a microvm desktop falls back to the container runtime with hardened isolation and says so', async () => {
    const { p, driver, ids } = makeProvisioner();
    const id = newId('mvdesk');
    ids.add(id);
    const env = await p.provision(ctx(), {
      id,
      spec: spec({ name: 'mvdesk', runtime: 'microvm', display: 'desktop' }),
    });
    expect(env.runtime.kind).toBe(driver.kind);
    expect(env.runtime.substitution).toMatchObject({
      kind: 'substitution',
      code: 'runtime.microvm_as_hardened_container',
    });
    expect(env.display?.protocol).toBe('rfb');
    // The bundle carries the strict profile (io_uring_setup is denied only there) and the desktop
    // runs under it.
    const config = readFileSync(
      join(driverDir, 'bundles', driver.containerName(id), 'config.json'),
      'utf8',
    );
    expect(config).toContain('io_uring_setup');
    const r = await p.exec(ctx(), id, { args: ['grep', '^Seccomp:', '/proc/self/status'] });
    expect(r.stdout).toMatch(/Seccomp:\s+2/);
    await p.teardown(ctx(), id);
    expect(await traces(driver, stateDir, id)).toEqual([]);
  });

  it('the vm class is refused with runtime.unavailable and a hint', () => {
    const { p } = makeProvisioner();
    expect(() => p.chooseRuntime(spec({ name: 'vm', runtime: 'vm' }))).toThrow(
      expect.objectContaining({ code: 'runtime.unavailable' }),
    );
  });
});
