import { ManualClock } from '@virtos/core';
import { describe, expect, it } from 'vitest';
import { MemoryRegistryStore, Orchestrator, sampleSpec } from '../src/index.js';
import { ProvisionerDouble } from './provisioner-double.js';

describe('smoke', () => {
  it('create -> running -> suspended -> running -> terminated', async () => {
    const clock = new ManualClock(1_000_000);
    const prov = new ProvisionerDouble();
    const orch = new Orchestrator({ store: new MemoryRegistryStore(), provisioner: prov, clock });
    await orch.start();
    const rec = await orch.create({ spec: sampleSpec('a'), owner: 'alice' }, { wait: true });
    expect(rec.state).toBe('running');
    expect((await orch.suspend(rec.id)).state).toBe('suspended');
    expect((await orch.resume(rec.id)).state).toBe('running');
    expect((await orch.terminate(rec.id)).state).toBe('terminated');
    const ev = await orch.events(rec.id);
    expect(ev.filter((e) => e.type === 'transition').map((e) => e.to)).toEqual([
      'provisioning',
      'running',
      'suspended',
      'running',
      'terminated',
    ]);
    await orch.shutdown();
  });
});
