/**
 * Adoption: environments outlive the daemon, so a new orchestrator (a restarted daemon) takes over
 * those an earlier one left running, once each, through the provisioner's optional `adopt`.
 */
import { RuntimeErrors, type DriverContext, type EnvironmentStatus } from '@virtos/runtime';
import { describe, expect, it } from 'vitest';
import type { ProvisionRequest } from '../src/index.js';
import { advance, harness, spec } from './harness.js';
import { ProvisionerDouble } from './provisioner-double.js';

/**
 * The double with `adopt`: it records the call and can be told to fail for some ids, for good
 * (`runtime.unadoptable`) or for now (any other error).
 */
class AdoptingDouble extends ProvisionerDouble {
  readonly adoptFails = new Set<string>();
  readonly adoptFailsNow = new Set<string>();
  async adopt(ctx: DriverContext, req: ProvisionRequest): Promise<EnvironmentStatus> {
    this.calls.push(`adopt:${req.id}`);
    if (this.adoptFails.has(req.id)) {
      throw RuntimeErrors.create('unadoptable', `The network of ${req.id} is gone.`, {
        subject: req.id,
      });
    }
    if (this.adoptFailsNow.has(req.id)) {
      throw RuntimeErrors.create('failed', `nft failed while re-making the proxy of ${req.id}.`, {
        subject: req.id,
      });
    }
    return this.status(ctx, req.id);
  }
}

describe('adoption after a daemon restart', () => {
  it('running and suspended environments are adopted once each and keep their state', async () => {
    const prov = new AdoptingDouble();
    const h = await harness({ provisioner: prov });
    const a = await h.orch.create({ spec: spec('a'), owner: 'u' }, { wait: true });
    const b = await h.orch.create({ spec: spec('b'), owner: 'u' }, { wait: true });
    await h.orch.suspend(b.id);
    // Made by this orchestrator: nothing to adopt.
    await h.orch.reconcile(a.id);
    expect(prov.calls.filter((c) => c.startsWith('adopt:'))).toEqual([]);
    // Graceful stop (environments keep running), then a new daemon process.
    await h.orch.shutdown();
    const second = await h.restart();
    expect((await second.get(a.id)).state).toBe('running');
    expect((await second.get(b.id)).state).toBe('suspended');
    expect(prov.calls.filter((c) => c.startsWith('adopt:')).sort()).toEqual(
      [`adopt:${a.id}`, `adopt:${b.id}`].sort(),
    );
    // Later passes only read the status.
    await advance(h, 60_000, second);
    expect(prov.calls.filter((c) => c.startsWith('adopt:')).length).toBe(2);
    expect(prov.calls.filter((c) => c.startsWith('teardown:'))).toEqual([]);
    await second.shutdown();
  });

  it('one that ended while no daemon ran is failed (vanished) and torn down; one that cannot be adopted is failed (adoption_failed)', async () => {
    const prov = new AdoptingDouble();
    const h = await harness({ provisioner: prov });
    const ended = await h.orch.create({ spec: spec('e'), owner: 'u' }, { wait: true });
    const gone = await h.orch.create({ spec: spec('g'), owner: 'u' }, { wait: true });
    const broken = await h.orch.create({ spec: spec('x'), owner: 'u' }, { wait: true });
    await h.orch.shutdown();
    prov.stop(ended.id);
    prov.vanish(gone.id);
    prov.adoptFails.add(broken.id);
    const second = await h.restart();
    expect(await second.get(ended.id)).toMatchObject({ state: 'failed', reason: 'vanished' });
    expect(await second.get(gone.id)).toMatchObject({ state: 'failed', reason: 'vanished' });
    const b = await second.get(broken.id);
    expect(b).toMatchObject({ state: 'failed', reason: 'adoption_failed' });
    expect((await second.events(broken.id)).some((e) => e.type === 'error')).toBe(true);
    expect(await prov.list()).toEqual([]);
    await second.shutdown();
  });

  it('an adoption that fails for now leaves the environment running and is retried on the next pass', async () => {
    const prov = new AdoptingDouble();
    const h = await harness({ provisioner: prov });
    const a = await h.orch.create({ spec: spec('a'), owner: 'u' }, { wait: true });
    await h.orch.shutdown();
    prov.adoptFailsNow.add(a.id);
    const second = await h.restart();
    const adopts = () => prov.calls.filter((c) => c === `adopt:${a.id}`).length;
    expect(adopts()).toBe(1);
    expect((await second.get(a.id)).state).toBe('running');
    expect(prov.calls.filter((c) => c.startsWith('teardown:'))).toEqual([]);
    expect(await prov.list()).toEqual([a.id]);
    // Still failing on the next pass: still running, tried again.
    await advance(h, 30_000, second);
    expect(adopts()).toBe(2);
    expect((await second.get(a.id)).state).toBe('running');
    // The hiccup passed: adopted, and later passes only read the status.
    prov.adoptFailsNow.delete(a.id);
    await advance(h, 30_000, second);
    expect(adopts()).toBe(3);
    await advance(h, 60_000, second);
    expect(adopts()).toBe(3);
    expect((await second.get(a.id)).state).toBe('running');
    expect(prov.calls.filter((c) => c.startsWith('teardown:'))).toEqual([]);
    await second.shutdown();
  });

  it('a one-shot orchestrator (the CLI embedded) takes nothing over and removes nothing it has no record of', async () => {
    const prov = new AdoptingDouble();
    const h = await harness({ provisioner: prov });
    const a = await h.orch.create({ spec: spec('a'), owner: 'u' }, { wait: true });
    const b = await h.orch.create({ spec: spec('b'), owner: 'u' }, { wait: true });
    await h.orch.shutdown();
    // A trace without a record here (e.g. an environment of another registry), a queued request.
    prov.plant('env_elsewhere', 'running');
    const queued = await h.store.get(a.id);
    await h.store.put({ ...queued!, id: 'env_queued', name: 'q', state: 'requested', host: '' });
    prov.calls.length = 0;
    const once = await h.restart({ oneShot: true });
    await advance(h, 120_000, once);
    await once.modify(a.id, { spec: { ...spec('a'), description: 'changed' } });
    expect((await once.list()).map((r) => [r.id, r.state]).sort()).toEqual(
      [
        [a.id, 'running'],
        [b.id, 'running'],
        ['env_queued', 'requested'],
      ].sort(),
    );
    // No adoption, no scheduling, no teardown of anything it was not asked to remove.
    expect(prov.calls).toEqual([]);
    expect((await prov.list()).slice().sort()).toEqual([a.id, b.id, 'env_elsewhere'].sort());
    // What a command asks for still happens.
    expect((await once.terminate(b.id)).state).toBe('terminated');
    expect(prov.calls).toEqual([`teardown:${b.id}`]);
    await once.shutdown();
    // The next daemon takes over as before.
    const daemon = await h.restart();
    expect(prov.calls).toContain(`adopt:${a.id}`);
    expect((await daemon.get(a.id)).state).toBe('running');
    await daemon.shutdown();
  });
});
