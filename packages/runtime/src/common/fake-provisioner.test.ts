import { ManualClock } from '@virtos/core';
import type { EnvironmentSpec } from '@virtos/spec';
import { describe, expect, it } from 'vitest';
import { FakeProvisioner } from './fake-provisioner.js';
import type { ProvisionProgress } from './provisioner.js';

const ctx = () => ({ signal: new AbortController().signal });

function spec(over: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return {
    version: 1,
    name: 'env',
    base: { distro: 'debian', release: 'bookworm' },
    runtime: 'container',
    display: 'desktop',
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

describe('FakeProvisioner', () => {
  it('provisions a desktop through every phase, then suspends, resumes and tears down', async () => {
    const p = new FakeProvisioner();
    const seen: ProvisionProgress[] = [];
    const env = await p.provision(ctx(), { id: 'e1', spec: spec() }, (x) => seen.push(x));
    expect(seen.map((x) => x.phase)).toEqual([
      'image',
      'rootfs',
      'network',
      'create',
      'start',
      'display',
    ]);
    expect(env.status.state).toBe('running');
    expect(env.display?.protocol).toBe('rfb');
    expect((await p.suspend(ctx(), 'e1')).state).toBe('paused');
    expect((await p.resume(ctx(), 'e1')).state).toBe('running');
    expect(await p.list(ctx())).toEqual(['e1']);
    await p.teardown(ctx(), 'e1');
    await p.teardown(ctx(), 'e1');
    expect(await p.list(ctx())).toEqual([]);
    await expect(p.status(ctx(), 'e1')).rejects.toMatchObject({ code: 'runtime.not_found' });
  });

  it('refuses the vm class with runtime.unavailable', async () => {
    const p = new FakeProvisioner();
    await expect(
      p.provision(ctx(), { id: 'v', spec: spec({ runtime: 'vm' }) }),
    ).rejects.toMatchObject({
      code: 'runtime.unavailable',
    });
  });

  it('delays follow the clock', async () => {
    const clock = new ManualClock(0);
    const p = new FakeProvisioner({
      clock,
      delaysMs: { image: 100 },
      failAt: (r) => (r.id === 'bad' ? 'start' : undefined),
    });
    const pending = p.provision(ctx(), { id: 'bad2', spec: spec({ display: 'none' }) });
    let done = false;
    void pending.then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(100);
    const env = await pending;
    expect(env.provisionMs).toBe(100);
    expect(await p.list(ctx())).toEqual(['bad2']);
  });

  it('a failing provision leaves nothing behind', async () => {
    const p = new FakeProvisioner({ failAt: 'display' });
    await expect(p.provision(ctx(), { id: 'x', spec: spec() })).rejects.toMatchObject({
      code: 'runtime.failed',
    });
    expect(await p.list(ctx())).toEqual([]);
  });

  it('teardown failures are injectable for reconciler retries', async () => {
    const p = new FakeProvisioner({ teardownFailures: 1 });
    await p.provision(ctx(), { id: 'y', spec: spec({ display: 'terminal' }) });
    await expect(p.teardown(ctx(), 'y')).rejects.toMatchObject({ code: 'runtime.failed' });
    await p.teardown(ctx(), 'y');
    expect(await p.list(ctx())).toEqual([]);
  });
});
