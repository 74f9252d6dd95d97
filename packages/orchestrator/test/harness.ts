/** Builds an orchestrator on a ManualClock, a memory store and the provisioner double. */
import { ManualClock } from '@virtos/core';
import type { EnvironmentSpec } from '@virtos/spec';
import {
  MemoryRegistryStore,
  Orchestrator,
  sampleSpec,
  type HostInfo,
  type OrchestratorOptions,
  type RegistryStore,
} from '../src/index.js';
import { ProvisionerDouble } from './provisioner-double.js';

/** One host with 4 CPUs and 4096 MiB unless told otherwise. */
export const SMALL_HOST: HostInfo = {
  id: 'h1',
  cpus: 4,
  memoryMiB: 4096,
  gpus: 0,
  runtimes: ['container', 'microvm'],
};

/** A spec with the given resources and priority. */
export function spec(
  name: string,
  extra: {
    cpus?: number;
    memoryMiB?: number;
    priority?: EnvironmentSpec['priority'];
    runtime?: EnvironmentSpec['runtime'];
    display?: EnvironmentSpec['display'];
    ttlMinutes?: number | null;
    idleSuspendMinutes?: number | null;
  } = {},
): EnvironmentSpec {
  const base = sampleSpec(name);
  return {
    ...base,
    runtime: extra.runtime ?? base.runtime,
    display: extra.display ?? base.display,
    resources: {
      ...base.resources,
      cpus: extra.cpus ?? 1,
      memoryMiB: extra.memoryMiB ?? 512,
    },
    lifetime: {
      ttlMinutes: extra.ttlMinutes ?? null,
      idleSuspendMinutes: extra.idleSuspendMinutes ?? null,
    },
    priority: extra.priority ?? 'normal',
  };
}

/** The parts of a test. */
export interface Harness {
  clock: ManualClock;
  store: RegistryStore;
  prov: ProvisionerDouble;
  orch: Orchestrator;
  /** A second orchestrator on the same store and provisioner (a daemon restart). */
  restart(extra?: Partial<OrchestratorOptions>): Promise<Orchestrator>;
}

/** Makes and starts an orchestrator. */
export async function harness(extra: Partial<OrchestratorOptions> = {}): Promise<Harness> {
  const clock = new ManualClock(1_700_000_000_000);
  const store = extra.store ?? new MemoryRegistryStore();
  const prov = (extra.provisioner as ProvisionerDouble | undefined) ?? new ProvisionerDouble();
  const make = (more: Partial<OrchestratorOptions> = {}) =>
    new Orchestrator({
      store,
      provisioner: prov,
      clock,
      hosts: [SMALL_HOST],
      reconcileIntervalMs: 30_000,
      ...extra,
      ...more,
    });
  const orch = make();
  await orch.start();
  return {
    clock,
    store,
    prov,
    orch,
    async restart(more = {}) {
      const next = make(more);
      await next.start();
      return next;
    },
  };
}

/** Advances the clock in steps, letting background work finish after each. */
export async function advance(
  h: Harness,
  ms: number,
  orch = h.orch,
  stepMs = 30_000,
): Promise<void> {
  let left = ms;
  while (left > 0) {
    const step = Math.min(stepMs, left);
    h.clock.advance(step);
    left -= step;
    await orch.whenIdle();
  }
}
