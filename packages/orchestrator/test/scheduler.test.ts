import { describe, expect, it } from 'vitest';
import { Scheduler, type HostInfo, type HostUsage, type ScheduleRequest } from '../src/index.js';
import { advance, harness, spec } from './harness.js';

const host = (
  id: string,
  cpus: number,
  memoryMiB: number,
  runtimes: HostInfo['runtimes'] = ['container'],
): HostInfo => ({
  id,
  cpus,
  memoryMiB,
  gpus: 0,
  runtimes,
});
const req = (id: string, extra: Partial<ScheduleRequest> = {}): ScheduleRequest => ({
  id,
  cpus: 1,
  memoryMiB: 512,
  gpus: 0,
  runtime: 'container',
  priority: 1,
  queuedAt: 0,
  ...extra,
});

describe('Scheduler (pure)', () => {
  it('orders by effective priority, then age; ageing lifts one level per agingMs', () => {
    const s = new Scheduler([host('h', 8, 8192)], { agingMs: 1000 });
    const q = [
      req('low-old', { priority: 0, queuedAt: 0 }),
      req('high-new', { priority: 2, queuedAt: 2500 }),
      req('normal', { priority: 1, queuedAt: 2000 }),
    ];
    expect(s.order(q, 2500).map((r) => r.id)).toEqual(['low-old', 'high-new', 'normal']);
    const noAgeing = new Scheduler([host('h', 8, 8192)], { agingMs: 1e12 });
    expect(noAgeing.order(q, 2500).map((r) => r.id)).toEqual(['high-new', 'normal', 'low-old']);
    expect(s.effectivePriority(q[0] as ScheduleRequest, 2500)).toBe(2);
  });

  it('places on the host with the most free share, and respects runtime classes', () => {
    const s = new Scheduler([
      host('a', 4, 4096),
      host('b', 8, 8192),
      host('vm', 64, 65536, ['vm']),
    ]);
    const usage = new Map<string, HostUsage>([['b', { cpus: 7, memoryMiB: 1024, gpus: 0 }]]);
    const plan = s.plan([req('x'), req('y', { runtime: 'vm', cpus: 32 })], usage, 0);
    expect(plan.placements).toEqual([
      { id: 'x', host: 'a' },
      { id: 'y', host: 'vm' },
    ]);
    expect(usage.get('a')).toEqual({ cpus: 1, memoryMiB: 512, gpus: 0 });
  });

  it('a request no host could ever run is unschedulable, with the reason', () => {
    const s = new Scheduler([host('a', 4, 4096)]);
    const plan = s.plan(
      [req('big', { memoryMiB: 8192 }), req('vm', { runtime: 'vm' })],
      new Map(),
      0,
    );
    expect(plan.unschedulable.map((u) => u.id)).toEqual(['big', 'vm']);
    expect(plan.unschedulable[0]?.reason).toContain('largest host (a) has 4 CPUs, 4096 MiB');
    expect(plan.unschedulable[1]?.reason).toBe("no host serves the 'vm' runtime class");
  });

  it('a blocked request reserves its hosts: smaller requests behind it do not slip past', () => {
    const s = new Scheduler([host('a', 4, 4096), host('b', 4, 4096, ['microvm'])]);
    const usage = new Map<string, HostUsage>([
      ['a', { cpus: 2, memoryMiB: 0, gpus: 0 }],
      ['b', { cpus: 0, memoryMiB: 0, gpus: 0 }],
    ]);
    const plan = s.plan(
      [
        req('big', { cpus: 4, priority: 2 }),
        req('small', { cpus: 1 }),
        req('other-class', { runtime: 'microvm' }),
      ],
      usage,
      0,
    );
    expect(plan.waiting).toEqual(['big', 'small']);
    expect(plan.placements).toEqual([{ id: 'other-class', host: 'b' }]);
  });
});

describe('queueing in the orchestrator', () => {
  it('queued requests stay requested and start as capacity frees, highest priority first', async () => {
    const h = await harness();
    const { orch } = h;
    const blockers = [];
    for (let i = 0; i < 4; i++)
      blockers.push(await orch.create({ spec: spec(`b${i}`), owner: 'a' }, { wait: true }));
    const low = await orch.create({ spec: spec('low', { priority: 'low' }), owner: 'a' });
    h.clock.advance(1000);
    const normal = await orch.create({ spec: spec('normal'), owner: 'a' });
    h.clock.advance(1000);
    const high = await orch.create({ spec: spec('high', { priority: 'high' }), owner: 'a' });
    await orch.whenIdle();
    for (const r of [low, normal, high]) expect((await orch.get(r.id)).state).toBe('requested');
    expect(orch.metrics().queueLength).toBe(3);

    const started: string[] = [];
    orch.onDidChange((e) => {
      if (e.to === 'running') started.push(e.envId);
    });
    for (const b of blockers) {
      await orch.terminate(b.id);
      await orch.whenIdle();
    }
    expect(started).toEqual([high.id, normal.id, low.id]);
    expect(orch.metrics().queueLength).toBe(0);
    await orch.shutdown();
  });

  it('no starvation: a low-priority request overtakes fresh high-priority ones after ageing', async () => {
    const h = await harness({ agingMs: 60_000 });
    const { orch } = h;
    // Capacity for one environment (4 CPUs each) at a time.
    let current = await orch.create(
      { spec: spec('first', { cpus: 4 }), owner: 'a' },
      { wait: true },
    );
    const low = await orch.create({ spec: spec('low', { cpus: 4, priority: 'low' }), owner: 'a' });
    const order: string[] = [];
    orch.onDidChange((e) => {
      if (e.to === 'running') order.push(e.envId);
    });
    // A steady stream of high-priority requests, one per 30 s; one environment ends per 30 s.
    for (let i = 0; i < 10 && !order.includes(low.id); i++) {
      await orch.create({ spec: spec(`high${i}`, { cpus: 4, priority: 'high' }), owner: 'a' });
      await advance(h, 30_000);
      await orch.terminate(current.id);
      await orch.whenIdle();
      const running = await orch.list({ state: 'running' });
      current = running[0] ?? current;
    }
    expect(order).toContain(low.id);
    // 2 levels below high: it needs 2 ageing steps (2 min), so at most 5 highs went before it.
    expect(order.indexOf(low.id)).toBeLessThanOrEqual(5);
    await orch.shutdown();
  });

  it('without ageing the same stream starves the low-priority request (the control case)', async () => {
    const h = await harness({ agingMs: 1e12 });
    const { orch } = h;
    let current = await orch.create(
      { spec: spec('first', { cpus: 4 }), owner: 'a' },
      { wait: true },
    );
    const low = await orch.create({ spec: spec('low', { cpus: 4, priority: 'low' }), owner: 'a' });
    for (let i = 0; i < 10; i++) {
      await orch.create({ spec: spec(`high${i}`, { cpus: 4, priority: 'high' }), owner: 'a' });
      await advance(h, 30_000);
      await orch.terminate(current.id);
      await orch.whenIdle();
      current = (await orch.list({ state: 'running' }))[0] ?? current;
    }
    expect((await orch.get(low.id)).state).toBe('requested');
    await orch.shutdown();
  });

  it('a request larger than every host is refused at create with orchestrator.unschedulable', async () => {
    const h = await harness();
    await expect(
      h.orch.create({ spec: spec('huge', { memoryMiB: 65536 }), owner: 'a' }),
    ).rejects.toMatchObject({ code: 'orchestrator.unschedulable' });
    expect(await h.orch.list()).toEqual([]);
    await h.orch.shutdown();
  });

  it('keeps the runtime substitution finding on the record (microvm -> gVisor)', async () => {
    const h = await harness();
    const r = await h.orch.create(
      { spec: spec('sec', { runtime: 'microvm' }), owner: 'a' },
      { wait: true },
    );
    expect(r.runtime?.kind).toBe('oci.runsc/v1');
    expect(r.findings).toContainEqual(
      expect.objectContaining({ kind: 'substitution', field: 'runtime' }),
    );
    expect(r.host).toBe('h1');
    await h.orch.shutdown();
  });

  it('a runtime class the provisioner refuses fails create with its coded error', async () => {
    const h = await harness({
      hosts: [{ id: 'h', cpus: 4, memoryMiB: 4096, gpus: 0, runtimes: ['vm'] }],
    });
    await expect(
      h.orch.create({ spec: spec('v', { runtime: 'vm' }), owner: 'a' }),
    ).rejects.toMatchObject({
      code: 'runtime.unavailable',
    });
    await h.orch.shutdown();
  });
});

describe('quotas per owner', () => {
  it('refuses the environment over the count, CPU or memory quota with orchestrator.quota_exceeded', async () => {
    const h = await harness({
      quotas: { perOwner: { maxEnvironments: 2, maxCpus: 3, maxMemoryMiB: 2048 } },
    });
    const { orch } = h;
    const a = await orch.create({ spec: spec('a1', { cpus: 2 }), owner: 'alice' });
    await expect(
      orch.create({ spec: spec('a2', { cpus: 2 }), owner: 'alice' }),
    ).rejects.toMatchObject({
      code: 'orchestrator.quota_exceeded',
      message: expect.stringContaining('quota of 3 CPUs'),
    });
    await expect(
      orch.create({ spec: spec('a3', { memoryMiB: 2048 }), owner: 'alice' }),
    ).rejects.toMatchObject({
      code: 'orchestrator.quota_exceeded',
    });
    await orch.create({ spec: spec('a4'), owner: 'alice' });
    await expect(
      orch.create({ spec: spec('a5', { cpus: 0.5, memoryMiB: 64 }), owner: 'alice' }),
    ).rejects.toMatchObject({
      code: 'orchestrator.quota_exceeded',
      message: expect.stringContaining('quota of 2 environments'),
    });
    // Another owner has their own quota; a terminated environment no longer counts.
    await orch.create({ spec: spec('b1', { cpus: 2 }), owner: 'bob' });
    await orch.terminate(a.id);
    await orch.create({ spec: spec('a6', { cpus: 2 }), owner: 'alice' });
    await orch.shutdown();
  });

  it('modify that grows resources past the quota is refused', async () => {
    const h = await harness({ quotas: { perOwner: { maxCpus: 2 } } });
    const r = await h.orch.create({ spec: spec('m'), owner: 'alice' }, { wait: true });
    const next = { ...r.spec, resources: { ...r.spec.resources, cpus: 3 } };
    await expect(h.orch.modify(r.id, { spec: next })).rejects.toMatchObject({
      code: 'orchestrator.quota_exceeded',
    });
    await h.orch.shutdown();
  });
});
