import { describe, expect, it } from 'vitest';
import { OrchestratorErrors, PROVISIONING_BUCKETS_S } from '../src/index.js';
import { harness, spec } from './harness.js';

describe('create', () => {
  it('async mode returns at once as requested; wait mode resolves running', async () => {
    const h = await harness();
    h.prov.hold = true;
    const r = await h.orch.create({ spec: spec('a'), owner: 'alice' });
    expect(r.state).toBe('requested');
    await h.prov.whenHeld(r.id);
    expect((await h.orch.get(r.id)).state).toBe('provisioning');
    h.prov.hold = false;
    const w = h.orch.create({ spec: spec('b'), owner: 'alice' }, { wait: true });
    h.prov.release(r.id);
    expect((await w).state).toBe('running');
    await h.orch.shutdown();
  });

  it('aborting the wait rejects with core.cancelled and the environment carries on', async () => {
    const h = await harness();
    h.prov.hold = true;
    const ac = new AbortController();
    const w = h.orch.create({ spec: spec('a'), owner: 'alice' }, { wait: true, signal: ac.signal });
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await expect(w).rejects.toMatchObject({ code: 'core.cancelled' });
    const [id] = h.prov.held;
    h.prov.release(id as string);
    await h.orch.whenIdle();
    expect((await h.orch.get(id as string)).state).toBe('running');
    await h.orch.shutdown();
  });

  it('refuses an invalid spec with orchestrator.invalid_spec and makes no record', async () => {
    const h = await harness();
    const bad = { ...spec('a'), resources: { cpus: 0, memoryMiB: 1, diskMiB: 1, gpus: 0 } };
    await expect(h.orch.create({ spec: bad, owner: 'alice' })).rejects.toMatchObject({
      code: 'orchestrator.invalid_spec',
    });
    expect(await h.orch.list()).toEqual([]);
    await h.orch.shutdown();
  });

  it('names are unique per owner among active environments: a second gets a suffix, an explicit clash is refused', async () => {
    const h = await harness();
    const a = await h.orch.create({ spec: spec('web'), owner: 'alice' });
    const b = await h.orch.create({ spec: spec('web'), owner: 'alice' });
    const c = await h.orch.create({ spec: spec('web'), owner: 'bob' });
    expect([a.name, b.name, c.name]).toEqual(['web', 'web-2', 'web']);
    expect(b.spec.name).toBe('web-2');
    expect(b.findings).toContainEqual(expect.objectContaining({ code: 'name.suffixed' }));
    await expect(
      h.orch.create({ spec: spec('x'), owner: 'alice', name: 'web' }),
    ).rejects.toMatchObject({
      code: 'orchestrator.name_taken',
    });
    await h.orch.terminate(a.id);
    expect((await h.orch.create({ spec: spec('web'), owner: 'alice' })).name).toBe('web');
    await h.orch.shutdown();
  });

  it('createFromText composes, keeps the findings on the record, and refuses (no record) when blocked', async () => {
    const h = await harness({
      hosts: [
        { id: 'big', cpus: 16, memoryMiB: 32768, gpus: 0, runtimes: ['container', 'microvm'] },
      ],
    });
    const ok = await h.orch.createFromText(
      { request: 'a debian terminal with git', owner: 'alice' },
      { wait: true },
    );
    expect(ok.compose.ok).toBe(true);
    expect(ok.record?.state).toBe('running');
    expect(ok.record?.findings.length).toBeGreaterThan(0);
    expect(ok.record?.spec.apps.map((a) => a.id)).toContain('git');
    const refused = await h.orch.createFromText({
      request: 'windows 11 with photoshop',
      owner: 'alice',
    });
    expect(refused.record).toBeNull();
    expect(refused.compose.ok).toBe(false);
    expect((await h.orch.list()).length).toBe(1);
    await h.orch.shutdown();
  });

  it('list filters by owner and state', async () => {
    const h = await harness();
    await h.orch.create({ spec: spec('a'), owner: 'alice' }, { wait: true });
    const b = await h.orch.create({ spec: spec('b'), owner: 'bob' }, { wait: true });
    await h.orch.suspend(b.id);
    expect((await h.orch.list({ owner: 'alice' })).map((r) => r.name)).toEqual(['a']);
    expect((await h.orch.list({ state: 'suspended' })).map((r) => r.name)).toEqual(['b']);
    await h.orch.shutdown();
  });
});

describe('modify', () => {
  it('lifetime and priority apply live; resources need a restart and say so as findings on the record', async () => {
    const h = await harness();
    const r = await h.orch.create({ spec: spec('m'), owner: 'alice' }, { wait: true });
    const live = await h.orch.modify(r.id, {
      spec: { ...r.spec, lifetime: { ttlMinutes: 90, idleSuspendMinutes: null }, priority: 'high' },
    });
    expect(live.applied).toBe('live');
    expect(live.record.priority).toBe(2);
    const restart = await h.orch.modify(r.id, {
      spec: {
        ...live.record.spec,
        resources: { ...r.spec.resources, cpus: 2 },
        network: { mode: 'internet', allow: [], peers: [] },
      },
    });
    expect(restart.applied).toBe('restart-needed');
    expect(restart.findings.map((f) => f.field).sort()).toEqual(['network', 'resources']);
    expect(restart.record.findings.filter((f) => f.code === 'modify.restart_needed').length).toBe(
      2,
    );
    expect(restart.record.spec.resources.cpus).toBe(2);
    expect(restart.record.state).toBe('running');
    const none = await h.orch.modify(r.id, { spec: restart.record.spec });
    expect(none.applied).toBe('none');
    const events = await h.orch.events(r.id);
    expect(events.filter((e) => e.type === 'modified').length).toBe(2);
    await h.orch.shutdown();
  });

  it('modifies from a request through the composer; a requested environment takes everything live', async () => {
    const h = await harness();
    const blocker = await h.orch.create(
      { spec: spec('blocker', { cpus: 4 }), owner: 'alice' },
      { wait: true },
    );
    const r = await h.orch.create({ spec: spec('q'), owner: 'alice' });
    await h.orch.whenIdle();
    const m = await h.orch.modify(r.id, { request: 'add git' });
    expect(m.applied).toBe('live');
    expect(m.record.spec.apps.map((a) => a.id)).toContain('git');
    await expect(h.orch.modify(r.id, { request: 'add photoshop' })).rejects.toMatchObject({
      code: 'orchestrator.compose_failed',
    });
    await h.orch.terminate(blocker.id);
    await h.orch.whenIdle();
    expect((await h.orch.get(r.id)).state).toBe('running');
    await h.orch.shutdown();
  });
});

describe('exec, display, metrics', () => {
  it('exec and display go through the provisioner and touch lastActiveAt; display is kept on the record', async () => {
    const h = await harness();
    const r = await h.orch.create(
      { spec: spec('d', { display: 'desktop' }), owner: 'alice' },
      { wait: true },
    );
    expect(r.display?.socketPath).toContain(r.id);
    h.clock.advance(5000);
    expect((await h.orch.exec(r.id, { args: ['echo', 'hi'] })).stdout).toBe('echo hi\n');
    expect((await h.orch.get(r.id)).lastActiveAt).toBe(h.clock.now());
    const d = await h.orch.display(r.id);
    expect(d.protocol).toBe('rfb');
    await h.orch.shutdown();
  });

  it('a failing provisioner call reconciles the record (exec on a vanished environment)', async () => {
    const h = await harness();
    const r = await h.orch.create({ spec: spec('x'), owner: 'alice' }, { wait: true });
    h.prov.vanish(r.id);
    await expect(h.orch.exec(r.id, { args: ['true'] })).rejects.toMatchObject({
      code: 'runtime.not_found',
    });
    await h.orch.whenIdle();
    expect(await h.orch.get(r.id)).toMatchObject({ state: 'failed', reason: 'vanished' });
    await h.orch.shutdown();
  });

  it('metrics count states, the queue and provisioning durations', async () => {
    const h = await harness();
    await h.orch.create({ spec: spec('a', { cpus: 4 }), owner: 'alice' }, { wait: true });
    await h.orch.create({ spec: spec('b'), owner: 'alice' });
    await h.orch.whenIdle();
    const m = h.orch.metrics();
    expect(m.byState).toEqual({
      requested: 1,
      provisioning: 0,
      running: 1,
      suspended: 0,
      terminated: 0,
      failed: 0,
    });
    expect(m.queueLength).toBe(1);
    expect(m.provisioningSeconds.count).toBe(1);
    expect(m.provisioningSeconds.buckets.map((b) => b.le)).toEqual(PROVISIONING_BUCKETS_S);
    await h.orch.shutdown();
  });

  it('after shutdown, calls fail with orchestrator.disposed', async () => {
    const h = await harness();
    await h.orch.shutdown();
    let error: unknown;
    try {
      await h.orch.create({ spec: spec('a'), owner: 'alice' });
    } catch (e) {
      error = e;
    }
    expect(OrchestratorErrors.is(error, 'disposed')).toBe(true);
  });
});
