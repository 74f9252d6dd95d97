import { ManualClock } from '@virtos/core';
import { FakeProvisioner } from '@virtos/runtime';
import { describe, expect, it } from 'vitest';
import { MemoryRegistryStore, Orchestrator } from '../src/index.js';
import { SMALL_HOST, advance, harness, spec } from './harness.js';

describe('reconciler', () => {
  it('a running environment the provisioner no longer knows becomes failed with reason vanished', async () => {
    const h = await harness();
    const r = await h.orch.create({ spec: spec('v'), owner: 'a' }, { wait: true });
    h.prov.vanish(r.id);
    await h.orch.reconcile(r.id);
    const after = await h.orch.get(r.id);
    expect(after).toMatchObject({ state: 'failed', reason: 'vanished' });
    expect((await h.orch.events(r.id)).at(-1)).toMatchObject({ from: 'running', to: 'failed' });
    await h.orch.shutdown();
  });

  it('a suspended environment whose processes ended is failed (vanished) and torn down, by the periodic pass', async () => {
    const h = await harness();
    const r = await h.orch.create({ spec: spec('s'), owner: 'a' }, { wait: true });
    await h.orch.suspend(r.id);
    h.prov.stop(r.id);
    await advance(h, 30_000);
    expect(await h.orch.get(r.id)).toMatchObject({ state: 'failed', reason: 'vanished' });
    expect(h.prov.envs.has(r.id)).toBe(false);
    await h.orch.shutdown();
  });

  it('traces on the host without a record are torn down at start (no orphans)', async () => {
    const h = await harness();
    h.prov.plant('env_orphan0000000000', 'running');
    h.prov.plant('env_partial000000000', 'partial');
    const orch = await h.restart();
    expect(h.prov.calls).toEqual(
      expect.arrayContaining(['teardown:env_orphan0000000000', 'teardown:env_partial000000000']),
    );
    expect(await h.prov.list()).toEqual([]);
    await orch.shutdown();
    await h.orch.shutdown();
  });

  it('a terminated record with a leftover trace gets the trace removed', async () => {
    const h = await harness();
    const r = await h.orch.create({ spec: spec('t'), owner: 'a' }, { wait: true });
    await h.orch.terminate(r.id);
    h.prov.plant(r.id, 'partial');
    await h.orch.reconcile(r.id);
    expect(h.prov.envs.has(r.id)).toBe(false);
    expect((await h.orch.get(r.id)).state).toBe('terminated');
    await h.orch.shutdown();
  });

  it('daemon killed mid-provisioning: the restart tears the partial environment down and provisions again', async () => {
    const h = await harness();
    h.prov.hold = true;
    const r = await h.orch.create({ spec: spec('k'), owner: 'a' });
    await h.prov.whenHeld(r.id);
    expect((await h.orch.get(r.id)).state).toBe('provisioning');
    // "kill -9": the first orchestrator is simply abandoned (no shutdown); a new one starts.
    h.prov.hold = false;
    const second = await h.restart();
    await second.whenIdle();
    const after = await second.get(r.id);
    expect(after.state).toBe('running');
    expect(after.attempts).toBe(2);
    const calls = h.prov.calls.filter((c) => c.endsWith(r.id));
    expect(calls).toEqual([`provision:${r.id}`, `teardown:${r.id}`, `provision:${r.id}`]);
    const transitions = (await second.events(r.id)).filter((e) => e.type === 'transition');
    expect(transitions.map((e) => `${e.from}->${e.to}`)).toEqual([
      'requested->provisioning',
      'provisioning->requested',
      'requested->provisioning',
      'provisioning->running',
    ]);
    await second.shutdown();
  });

  it('after maxAttempts interrupted provisionings the record is failed, not retried forever', async () => {
    const h = await harness({ maxAttempts: 2 });
    h.prov.hold = true;
    const r = await h.orch.create({ spec: spec('k'), owner: 'a' });
    await h.prov.whenHeld(r.id);
    const second = await h.restart({ maxAttempts: 2 });
    while (h.prov.calls.filter((c) => c === `provision:${r.id}`).length < 2) {
      await new Promise((res) => setImmediate(res));
    }
    const third = await h.restart({ maxAttempts: 2 });
    expect(await third.get(r.id)).toMatchObject({
      state: 'failed',
      reason: 'provisioning_interrupted',
    });
    expect(await h.prov.list()).toEqual([]);
    void second;
    await third.shutdown();
  });

  it('graceful shutdown mid-provisioning queues the request again; the next start provisions it', async () => {
    const h = await harness();
    h.prov.hold = true;
    const r = await h.orch.create({ spec: spec('g'), owner: 'a' });
    await h.prov.whenHeld(r.id);
    await h.orch.shutdown();
    expect(await h.store.get(r.id)).toMatchObject({ state: 'requested', host: '' });
    expect(h.prov.envs.has(r.id)).toBe(false);
    h.prov.hold = false;
    const next = await h.restart();
    await next.whenIdle();
    expect((await next.get(r.id)).state).toBe('running');
    await next.shutdown();
  });

  it('a failed provisioning is failed with reason provision_failed and leaves nothing', async () => {
    const h = await harness();
    h.prov.hold = true;
    const r = await h.orch.create({ spec: spec('f'), owner: 'a' });
    await h.prov.whenHeld(r.id);
    const settled = h.orch.get(r.id);
    h.prov.failProvision(r.id);
    await settled;
    await h.orch.whenIdle();
    expect(await h.orch.get(r.id)).toMatchObject({ state: 'failed', reason: 'provision_failed' });
    expect(h.prov.envs.has(r.id)).toBe(false);
    const events = await h.orch.events(r.id);
    expect(events.some((e) => e.type === 'error')).toBe(true);
    expect(events.some((e) => e.type === 'progress')).toBe(true);
    await h.orch.shutdown();
  });

  it('terminate during provisioning aborts it and leaves nothing; wait resolves terminated', async () => {
    const h = await harness();
    h.prov.hold = true;
    const waiting = h.orch.create({ spec: spec('x'), owner: 'a' }, { wait: true });
    await new Promise((r) => setImmediate(r));
    const [id] = h.prov.held;
    expect(id).toBeDefined();
    const done = await h.orch.terminate(id as string);
    expect(done.state).toBe('terminated');
    expect((await waiting).state).toBe('terminated');
    expect(h.prov.envs.has(id as string)).toBe(false);
    await h.orch.shutdown();
  });
});

describe('lifetime', () => {
  it('TTL: terminated once ttlMinutes have passed since it started', async () => {
    const h = await harness();
    const r = await h.orch.create(
      { spec: spec('t', { ttlMinutes: 60 }), owner: 'a' },
      { wait: true },
    );
    await advance(h, 59 * 60_000);
    expect((await h.orch.get(r.id)).state).toBe('running');
    await advance(h, 2 * 60_000);
    const after = await h.orch.get(r.id);
    expect(after.state).toBe('terminated');
    expect((await h.orch.events(r.id)).at(-1)?.message).toContain('time to live of 60 min');
    expect(h.prov.envs.has(r.id)).toBe(false);
    await h.orch.shutdown();
  });

  it('idle suspend: suspended after idleSuspendMinutes without exec, display or touch', async () => {
    const h = await harness();
    const r = await h.orch.create(
      { spec: spec('i', { idleSuspendMinutes: 30 }), owner: 'a' },
      { wait: true },
    );
    await advance(h, 20 * 60_000);
    await h.orch.exec(r.id, { args: ['true'] });
    await advance(h, 20 * 60_000);
    await h.orch.touch(r.id);
    await advance(h, 20 * 60_000);
    expect((await h.orch.get(r.id)).state).toBe('running');
    await advance(h, 11 * 60_000);
    expect((await h.orch.get(r.id)).state).toBe('suspended');
    expect(h.prov.envs.get(r.id)).toBe('paused');
    // Resuming counts as activity: no immediate re-suspend.
    await h.orch.resume(r.id);
    await advance(h, 60_000);
    expect((await h.orch.get(r.id)).state).toBe('running');
    await h.orch.shutdown();
  });
});

describe('with the runtime package FakeProvisioner', () => {
  it('a desktop goes running with its display; a stopped one is found vanished', async () => {
    const clock = new ManualClock(1_000);
    const prov = new FakeProvisioner({ clock, delaysMs: { image: 100, start: 50, display: 30 } });
    const orch = new Orchestrator({
      store: new MemoryRegistryStore(),
      provisioner: prov,
      clock,
      hosts: [SMALL_HOST],
    });
    await orch.start();
    const r = await orch.create({ spec: spec('d', { display: 'desktop' }), owner: 'a' });
    for (let i = 0; i < 10 && (await orch.get(r.id)).state !== 'running'; i++) {
      await new Promise((res) => setImmediate(res));
      clock.advance(50);
    }
    await orch.whenIdle();
    const running = await orch.get(r.id);
    expect(running.state).toBe('running');
    expect(running.display?.protocol).toBe('rfb');
    expect(orch.metrics().provisioningSeconds.count).toBe(1);
    expect((await orch.exec(r.id, { args: ['sh', '-c', 'echo hi'] })).exitCode).toBe(0);
    await prov.driver.stop({ signal: new AbortController().signal }, r.id);
    await orch.reconcile(r.id);
    expect(await orch.get(r.id)).toMatchObject({ state: 'failed', reason: 'vanished' });
    expect(await prov.list({ signal: new AbortController().signal })).toEqual([]);
    await orch.shutdown();
  });
});
