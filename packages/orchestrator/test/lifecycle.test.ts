import { describe, expect, it } from 'vitest';
import {
  ALLOWED,
  LIFECYCLE_STATES,
  OPERATIONS,
  OrchestratorErrors,
  TRANSITIONS,
  assertAllowed,
  type LifecycleState,
  type Operation,
} from '../src/index.js';
import { harness, spec, type Harness } from './harness.js';

/** Brings a fresh environment into `state`; returns its id. */
async function reach(state: LifecycleState): Promise<{ h: Harness; id: string }> {
  const h = await harness();
  const { orch, prov } = h;
  switch (state) {
    case 'requested': {
      await orch.create({ spec: spec('blocker', { cpus: 4 }), owner: 'a' }, { wait: true });
      const r = await orch.create({ spec: spec('queued'), owner: 'a' });
      await orch.whenIdle();
      return { h, id: r.id };
    }
    case 'provisioning': {
      prov.hold = true;
      const r = await orch.create({ spec: spec('slow'), owner: 'a' });
      await prov.whenHeld(r.id);
      return { h, id: r.id };
    }
    default: {
      const r = await orch.create({ spec: spec('e'), owner: 'a' }, { wait: true });
      if (state === 'suspended') await orch.suspend(r.id);
      if (state === 'terminated') await orch.terminate(r.id);
      if (state === 'failed') {
        prov.vanish(r.id);
        await orch.reconcile(r.id);
      }
      return { h, id: r.id };
    }
  }
}

async function attempt(h: Harness, id: string, op: Operation): Promise<void> {
  const { orch } = h;
  switch (op) {
    case 'suspend':
      await orch.suspend(id);
      return;
    case 'resume':
      await orch.resume(id);
      return;
    case 'modify':
      await orch.modify(id, { spec: { ...(await orch.get(id)).spec, priority: 'high' } });
      return;
    case 'terminate':
      await orch.terminate(id);
      return;
    case 'exec':
      await orch.exec(id, { args: ['echo', 'hi'] });
      return;
    case 'display':
      await orch.display(id);
      return;
    case 'provision':
      return;
  }
}

const RESULT_STATE: Partial<Record<Operation, LifecycleState>> = {
  suspend: 'suspended',
  resume: 'running',
  terminate: 'terminated',
};

describe('the state table', () => {
  it('lists every state and only known operations; provisioning allows only terminate', () => {
    expect(Object.keys(ALLOWED).sort()).toEqual([...LIFECYCLE_STATES].sort());
    for (const ops of Object.values(ALLOWED))
      for (const op of ops) expect(OPERATIONS).toContain(op);
    expect(ALLOWED.provisioning).toEqual(['terminate']);
    expect(ALLOWED.terminated).toEqual([]);
    expect(TRANSITIONS.terminated).toEqual([]);
  });

  it('names state and operation in the refusal', () => {
    let caught: unknown;
    try {
      assertAllowed('e-1', 'provisioning', 'suspend');
    } catch (e) {
      caught = e;
    }
    expect(OrchestratorErrors.is(caught, 'illegal_operation')).toBe(true);
    expect((caught as Error).message).toBe(
      "Cannot suspend env e-1: it is 'provisioning'; allowed: terminate.",
    );
    expect((caught as { details: unknown }).details).toEqual({
      state: 'provisioning',
      operation: 'suspend',
      allowed: ['terminate'],
    });
  });

  const userOps = OPERATIONS.filter((op) => op !== 'provision');
  for (const state of LIFECYCLE_STATES) {
    for (const op of userOps) {
      const legal = ALLOWED[state].includes(op);
      it(`${state} + ${op}: ${legal ? 'allowed' : 'refused with orchestrator.illegal_operation'}`, async () => {
        const { h, id } = await reach(state);
        const before = (await h.orch.events(id)).length;
        let error: unknown;
        try {
          await attempt(h, id, op);
        } catch (e) {
          error = e;
        }
        if (legal) {
          expect(error).toBeUndefined();
          const after = await h.orch.get(id);
          expect(after.state).toBe(RESULT_STATE[op] ?? state);
          if (RESULT_STATE[op]) {
            const last = (await h.orch.events(id)).at(-1);
            expect(last).toMatchObject({ type: 'transition', from: state, to: RESULT_STATE[op] });
          }
        } else {
          expect(OrchestratorErrors.is(error, 'illegal_operation')).toBe(true);
          expect((error as Error).message).toContain(`Cannot ${op} env ${id}: it is '${state}'`);
          expect((await h.orch.get(id)).state).toBe(state);
          expect((await h.orch.events(id)).length).toBe(before);
        }
        if (state === 'provisioning' && !legal) h.prov.release(id);
        await h.orch.shutdown();
      });
    }
  }

  it('every transition of a full life has an event, in order, with increasing seq', async () => {
    const { h, id } = await reach('running');
    await h.orch.suspend(id);
    await h.orch.resume(id);
    await h.orch.terminate(id);
    const events = await h.orch.events(id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.type === 'transition').map((e) => `${e.from}->${e.to}`)).toEqual([
      'requested->provisioning',
      'provisioning->running',
      'running->suspended',
      'suspended->running',
      'running->terminated',
    ]);
    expect(events[0]).toMatchObject({ type: 'created', to: 'requested' });
    expect((await h.orch.events(id, 3)).map((e) => e.seq)[0]).toBe(4);
    await h.orch.shutdown();
  });

  it('unknown ids are orchestrator.not_found', async () => {
    const h = await harness();
    await expect(h.orch.get('env_nope')).rejects.toMatchObject({ code: 'orchestrator.not_found' });
    await expect(h.orch.suspend('env_nope')).rejects.toMatchObject({
      code: 'orchestrator.not_found',
    });
    await h.orch.shutdown();
  });
});
