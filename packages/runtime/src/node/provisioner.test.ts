import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageStore, MountedRootfs, ResolvedImage } from '@virtos/images';
import { NetworkErrors, type NetworkAttachment, type NetworkManager } from '@virtos/sandbox';
import type { EnvironmentSpec } from '@virtos/spec';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CreateRequest, DriverContext, EnvironmentStatus } from '../common/driver.js';
import { FakeDriver } from '../common/fake-driver.js';
import { createProvisioner, type ProvisionerOptions } from './provisioner.js';

const ctx = () => ({ signal: new AbortController().signal });

function spec(over: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return {
    version: 1,
    name: 'env',
    base: { distro: 'debian', release: 'bookworm' },
    runtime: 'container',
    display: 'terminal',
    apps: [],
    network: { mode: 'none', allow: [], peers: [] },
    resources: { cpus: 1, memoryMiB: 512, diskMiB: 300, gpus: 0 },
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

/** A driver of another kind, recording create requests, optionally failing at start. */
class RecordingDriver extends FakeDriver {
  readonly created: CreateRequest[] = [];
  constructor(
    readonly kindOverride: string,
    private readonly failStart = false,
  ) {
    super();
    // Poses as an OCI driver of another kind (the provisioner picks drivers by kind).
    (this as { kind: string }).kind = kindOverride;
  }
  override async create(c: DriverContext, req: CreateRequest): Promise<EnvironmentStatus> {
    this.created.push(req);
    return super.create(c, req);
  }
  /** Set: the first process ends at once with this exit code (a start that does not hold). */
  exitAtStart: number | undefined;
  override async start(c: DriverContext, id: string): Promise<EnvironmentStatus> {
    if (this.failStart) throw new Error('start failed');
    const st = await super.start(c, id);
    if (this.exitAtStart === undefined) return st;
    await this.stop(c, id);
    return { id, state: 'stopped', exitCode: this.exitAtStart };
  }
}

interface World {
  events: string[];
  opts: ProvisionerOptions;
  container: RecordingDriver;
  microvm: RecordingDriver;
  mounted: Set<string>;
}

function world(
  stateDir: string,
  o: {
    failStart?: boolean;
    mounted?: Set<string>;
    /** The drivers of an earlier process (the runtime keeps its environments across processes). */
    drivers?: { container: RecordingDriver; microvm: RecordingDriver };
    slowImages?: Promise<void>;
  } = {},
): World {
  const events: string[] = [];
  const mounted = o.mounted ?? new Set<string>();
  const image: ResolvedImage = { key: 'k1', layers: [], outcomes: [] };
  const images = {
    ensure: async () => {
      events.push('ensure');
      await o.slowImages;
      return image;
    },
  } as unknown as ImageStore;
  const network: NetworkManager = {
    setup: async (env, net) => {
      events.push(`setup:${env.id}:${net.mode}`);
      const a: NetworkAttachment = {
        id: env.id,
        netnsPath: `/run/netns/virtos-${env.id}`,
        netnsName: `virtos-${env.id}`,
        mode: net.mode,
        resolvConfPath: `/state/${env.id}/resolv.conf`,
        hostsPath: `/state/${env.id}/hosts`,
        peers: () => new Map(),
        dispose: async () => {
          events.push(`dispose-net:${env.id}`);
        },
      };
      return a;
    },
    adopt: async (env, net) => {
      events.push(`adopt-net:${env.id}:${net.mode}:${net.allow.join(',')}`);
      return {
        id: env.id,
        netnsPath: `/run/netns/virtos-${env.id}`,
        netnsName: `virtos-${env.id}`,
        mode: net.mode,
        resolvConfPath: `/state/${env.id}/resolv.conf`,
        hostsPath: `/state/${env.id}/hosts`,
        peers: () => new Map(),
        dispose: async () => {
          events.push(`dispose-net:${env.id}`);
        },
      };
    },
    cleanupLeftovers: async (live) => {
      events.push(`cleanupLeftovers:[${live.join(',')}]`);
      return [];
    },
    dispose: async () => undefined,
  };
  const container =
    o.drivers?.container ?? new RecordingDriver('oci.crun/v1', o.failStart ?? false);
  const microvm = o.drivers?.microvm ?? new RecordingDriver('oci.runsc/v1');
  return {
    events,
    container,
    microvm,
    mounted,
    opts: {
      stateDir,
      images,
      network,
      drivers: { container, microvm },
      virtualization: { usable: false, detail: '/dev/kvm is nested PVM (kvm_pvm)' },
      mounts: {
        mount: async (_img, m) => {
          events.push(`mount:${m.writableMiB}`);
          mounted.add(m.target);
          const r: MountedRootfs = {
            path: m.target,
            scratch: `${m.target}.rw`,
            key: 'k1',
            writableMiB: m.writableMiB,
            dispose: async () => {
              events.push('unmount');
              mounted.delete(m.target);
            },
          };
          return r;
        },
        unmount: async (path) => {
          events.push(`unmount-path`);
          mounted.delete(path);
        },
        mountPoints: async () => [...mounted],
      },
    },
  };
}

describe('createProvisioner', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'virtos-prov-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('chooses crun/runc for container, gVisor for a headless microvm, hardened crun for a microvm desktop, refuses vm', () => {
    const w = world(dir);
    const p = createProvisioner(w.opts);
    expect(p.chooseRuntime(spec()).kind).toBe('oci.crun/v1');
    const mv = p.chooseRuntime(spec({ runtime: 'microvm' }));
    expect(mv.kind).toBe('oci.runsc/v1');
    expect(mv.substitution).toMatchObject({
      kind: 'substitution',
      code: 'runtime.microvm_as_gvisor',
    });
    expect(mv.substitution?.message).toContain('kvm_pvm');
    const desk = p.chooseRuntime(spec({ runtime: 'microvm', display: 'desktop' }));
    expect(desk.kind).toBe('oci.crun/v1');
    expect(desk.substitution?.code).toBe('runtime.microvm_as_hardened_container');
    const noRunsc = createProvisioner({ ...w.opts, drivers: { container: w.container } });
    expect(noRunsc.chooseRuntime(spec({ runtime: 'microvm' })).substitution?.code).toBe(
      'runtime.microvm_as_hardened_container',
    );
    expect(() => p.chooseRuntime(spec({ runtime: 'vm' }))).toThrow(
      expect.objectContaining({
        code: 'runtime.unavailable',
        hint: expect.stringContaining('QEMU'),
      }),
    );
    expect(w.events).toEqual([]);
  });

  it('wires the network attachment: netns path, read-only resolv.conf and hosts; desktops get xterm and gui apps', async () => {
    const w = world(dir);
    const p = createProvisioner(w.opts);
    const phases: string[] = [];
    await p.provision(
      ctx(),
      {
        id: 'a1',
        spec: spec({
          display: 'desktop',
          apps: [
            { id: 'firefox', packages: ['firefox-esr'] },
            { id: 'git', packages: ['git'] },
          ],
          network: { mode: 'allowlist', allow: ['example.org'], peers: [] },
        }),
      },
      (x) => phases.push(x.phase),
    );
    expect([...new Set(phases)]).toEqual([
      'image',
      'rootfs',
      'network',
      'create',
      'start',
      'display',
    ]);
    expect(w.events).toEqual(['ensure', 'mount:300', 'setup:a1:allowlist']);
    const req = w.container.created[0] as CreateRequest;
    expect(req.netnsPath).toBe('/run/netns/virtos-a1');
    expect(req.mounts).toEqual([
      { source: '/state/a1/resolv.conf', destination: '/etc/resolv.conf', readOnly: true },
      { source: '/state/a1/hosts', destination: '/etc/hosts', readOnly: true },
    ]);
    expect(req.apps?.map((a) => a.args[0])).toEqual(['xterm', 'firefox-esr']);
    // microvm desktops are hardened.
    await p.provision(ctx(), { id: 'a2', spec: spec({ runtime: 'microvm', display: 'desktop' }) });
    expect(w.container.created[1]?.spec.security.isolation).toBe('hardened');
  });

  it('a failed start undoes network and mount and leaves no record', async () => {
    const w = world(dir, { failStart: true });
    const p = createProvisioner(w.opts);
    await expect(
      p.provision(ctx(), {
        id: 'f1',
        spec: spec({ network: { mode: 'internet', allow: [], peers: [] } }),
      }),
    ).rejects.toThrow('start failed');
    expect(w.events).toEqual([
      'ensure',
      'mount:300',
      'setup:f1:internet',
      'dispose-net:f1',
      'unmount',
    ]);
    expect(await p.list(ctx())).toEqual([]);
    expect(await readdir(join(dir, 'envs'))).toEqual([]);
  });

  it('an aborted provision cleans up and reports core.cancelled', async () => {
    const w = world(dir);
    const p = createProvisioner(w.opts);
    const ac = new AbortController();
    const run = p.provision({ signal: ac.signal }, { id: 'c1', spec: spec() }, (x) => {
      if (x.phase === 'rootfs') ac.abort();
    });
    await expect(run).rejects.toMatchObject({ code: 'core.cancelled' });
    expect(await p.list(ctx())).toEqual([]);
  });

  it('a fresh instance tears down what a crashed one left, from the records', async () => {
    const mounted = new Set<string>();
    const a = world(dir, { mounted });
    const pa = createProvisioner(a.opts);
    await pa.provision(ctx(), {
      id: 'x1',
      spec: spec({ network: { mode: 'internet', allow: [], peers: [] } }),
    });
    await pa.provision(ctx(), { id: 'x2', spec: spec() });
    const b = world(dir, { mounted });
    const pb = createProvisioner(b.opts);
    expect(await pb.list(ctx())).toEqual(['x1', 'x2']);
    expect((await pb.status(ctx(), 'x1')).state).toBe('stopped');
    await pb.teardown(ctx(), 'x1');
    expect(b.events).toEqual(['cleanupLeftovers:[x2]', 'unmount-path']);
    expect(await pb.list(ctx())).toEqual(['x2']);
    await pb.teardown(ctx(), 'x1');
    await expect(pb.status(ctx(), 'x1')).rejects.toMatchObject({ code: 'runtime.not_found' });
  });

  it('a new instance adopts what an earlier one left running: network re-made from the spec, once; stopped ones are not adopted', async () => {
    const mounted = new Set<string>();
    const a = world(dir, { mounted });
    const pa = createProvisioner(a.opts);
    const allow = spec({ network: { mode: 'allowlist', allow: ['example.org'], peers: [] } });
    await pa.provision(ctx(), { id: 'k1', spec: allow });
    await pa.provision(ctx(), { id: 'k2', spec: spec() });
    await pa.provision(ctx(), { id: 'k3', spec: spec() });
    // The daemon process ends; the runtime (the same drivers) keeps the environments running.
    const b = world(dir, { mounted, drivers: { container: a.container, microvm: a.microvm } });
    const pb = createProvisioner(b.opts);
    expect(await pb.list(ctx())).toEqual(['k1', 'k2', 'k3']);
    expect((await pb.status(ctx(), 'k1')).state).toBe('running');
    expect((await pb.adopt(ctx(), { id: 'k1', spec: allow })).state).toBe('running');
    expect((await pb.adopt(ctx(), { id: 'k1', spec: allow })).state).toBe('running');
    expect((await pb.adopt(ctx(), { id: 'k2', spec: spec() })).state).toBe('running');
    // Only the allowlist environment had something inside the old process: adopted once.
    expect(b.events).toEqual(['adopt-net:k1:allowlist:example.org']);
    // One that ended meanwhile is reported as it is, and not adopted.
    await a.container.stop(ctx(), 'k3');
    expect((await pb.adopt(ctx(), { id: 'k3', spec: spec() })).state).toBe('stopped');
    await expect(pb.adopt(ctx(), { id: 'nope', spec: spec() })).rejects.toMatchObject({
      code: 'runtime.not_found',
    });
    // Teardown of an adopted environment goes through its re-made attachment.
    await pb.teardown(ctx(), 'k1');
    expect(b.events.slice(1)).toEqual(['dispose-net:k1', 'unmount-path']);
    expect(await pb.list(ctx())).toEqual(['k2', 'k3']);
  });

  it('adoption fails as unadoptable only when the network is gone for good; other failures pass through for a retry', async () => {
    const mounted = new Set<string>();
    const a = world(dir, { mounted });
    const pa = createProvisioner(a.opts);
    const allow = spec({ network: { mode: 'allowlist', allow: ['example.org'], peers: [] } });
    await pa.provision(ctx(), { id: 'g1', spec: allow });
    const b = world(dir, { mounted, drivers: { container: a.container, microvm: a.microvm } });
    let failure = NetworkErrors.create('unavailable', 'nft failed');
    const pb = createProvisioner({
      ...b.opts,
      network: {
        ...b.opts.network,
        adopt: async () => {
          throw failure;
        },
      },
    });
    await expect(pb.adopt(ctx(), { id: 'g1', spec: allow })).rejects.toMatchObject({
      code: 'network.unavailable',
    });
    failure = NetworkErrors.create('setup_failed', 'No network of g1 is left to adopt.');
    await expect(pb.adopt(ctx(), { id: 'g1', spec: allow })).rejects.toMatchObject({
      code: 'runtime.unadoptable',
    });
    await pb.teardown(ctx(), 'g1');
  });

  it('status waits for a provisioning of the same id instead of reading a half-made environment', async () => {
    let release!: () => void;
    const w = world(dir, { slowImages: new Promise<void>((r) => (release = r)) });
    const p = createProvisioner(w.opts);
    const prov = p.provision(ctx(), { id: 's1', spec: spec() });
    await new Promise((r) => setTimeout(r, 10));
    // The record exists, the sandbox does not yet: without waiting this read as "stopped".
    const st = p.status(ctx(), 's1');
    release();
    await prov;
    expect((await st).state).toBe('running');
  });

  it('a first process that ends during start fails the provisioning (never handed over as running)', async () => {
    const w = world(dir);
    w.container.exitAtStart = 3;
    const p = createProvisioner(w.opts);
    await expect(p.provision(ctx(), { id: 'e1', spec: spec() })).rejects.toMatchObject({
      code: 'runtime.failed',
      message: expect.stringContaining('exit code 3'),
    });
    expect(await p.list(ctx())).toEqual([]);
  });

  it('refuses an id that already exists', async () => {
    const w = world(dir);
    const p = createProvisioner(w.opts);
    await p.provision(ctx(), { id: 'd1', spec: spec() });
    await expect(p.provision(ctx(), { id: 'd1', spec: spec() })).rejects.toMatchObject({
      code: 'runtime.already_exists',
    });
  });
});
