/**
 * The one behaviour suite every {@link RegistryStore} passes (memory, SQLite, and the daemon's
 * vault-backed store). It takes the test API as a parameter so it does not depend on Vitest.
 */
import type { EnvironmentSpec } from '@virtos/spec';
import type { RegistryStore } from './store.js';
import type { EnvironmentEvent, EnvironmentRecord } from './types.js';

/** The parts of a test framework the suite uses. */
export interface StoreSuiteTestApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>): void;
  expect: (actual: unknown) => {
    toEqual(expected: unknown): void;
    toBeUndefined(): void;
    toBe(expected: unknown): void;
  };
}

/** Options of {@link describeRegistryStoreSuite}. */
export interface StoreSuiteOptions {
  /** A fresh, empty store per case; `close` is called after the case. */
  makeStore(): Promise<{ store: RegistryStore; close?: () => Promise<void> | void }>;
  /** Reopens the same storage (persistence check); omit for stores that keep nothing. */
  reopen?: (
    store: RegistryStore,
  ) => Promise<{ store: RegistryStore; close?: () => Promise<void> | void }>;
}

/** A valid spec for store tests. */
export function sampleSpec(name = 'sample'): EnvironmentSpec {
  return {
    version: 1,
    name,
    base: { distro: 'debian', release: 'bookworm' },
    runtime: 'container',
    display: 'none',
    apps: [],
    network: { mode: 'none', allow: [], peers: [] },
    resources: { cpus: 1, memoryMiB: 512, diskMiB: 1024, gpus: 0 },
    persistence: 'ephemeral',
    security: {
      isolation: 'standard',
      capabilities: [],
      seccompProfile: 'default',
      readOnlyRoot: true,
    },
    lifetime: { ttlMinutes: null, idleSuspendMinutes: null },
    priority: 'normal',
  };
}

function record(
  id: string,
  createdAt: number,
  extra: Partial<EnvironmentRecord> = {},
): EnvironmentRecord {
  return {
    id,
    name: id.replace(/_/g, '-'),
    owner: 'alice',
    spec: sampleSpec(),
    state: 'requested',
    host: '',
    findings: [],
    priority: 1,
    createdAt,
    updatedAt: createdAt,
    ...extra,
  };
}

function event(
  envId: string,
  seq: number,
  extra: Partial<EnvironmentEvent> = {},
): EnvironmentEvent {
  return { seq, at: 1000 + seq, envId, type: 'transition', message: `event ${seq}`, ...extra };
}

/** Registers the shared store cases. */
export function describeRegistryStoreSuite(
  api: StoreSuiteTestApi,
  name: string,
  opts: StoreSuiteOptions,
): void {
  const { describe, it, expect } = api;
  const withStore = (fn: (s: RegistryStore) => Promise<void>) => async () => {
    const { store, close } = await opts.makeStore();
    try {
      await fn(store);
    } finally {
      await close?.();
    }
  };
  describe(`RegistryStore: ${name}`, () => {
    it(
      'get of an unknown id is undefined; list of an empty store is empty',
      withStore(async (s) => {
        expect(await s.get('env_none')).toBeUndefined();
        expect(await s.list()).toEqual([]);
        expect(await s.events('env_none')).toEqual([]);
      }),
    );

    it(
      'put then get returns an equal record, with every optional field',
      withStore(async (s) => {
        const r = record('env_a', 10, {
          state: 'running',
          host: 'local',
          runtime: { kind: 'oci.crun/v1', reason: 'crun is available' },
          findings: [
            {
              kind: 'substitution',
              blocking: false,
              field: 'runtime',
              message: 'x',
              code: 'runtime.substituted',
            },
          ],
          startedAt: 20,
          lastActiveAt: 30,
          display: { protocol: 'rfb', socketPath: '/run/vnc.sock', width: 1280, height: 800 },
          queuedAt: 10,
          attempts: 1,
        });
        await s.put(r);
        expect(await s.get('env_a')).toEqual(r);
      }),
    );

    it(
      'put replaces; list is ordered by createdAt then id',
      withStore(async (s) => {
        await s.put(record('env_b', 20));
        await s.put(record('env_a', 20));
        await s.put(record('env_c', 5));
        await s.put(record('env_b', 20, { state: 'failed', reason: 'vanished' }));
        const list = await s.list();
        expect(list.map((r) => r.id)).toEqual(['env_c', 'env_a', 'env_b']);
        expect(list[2]?.reason).toBe('vanished');
      }),
    );

    it(
      'returns copies: mutating a result does not change the store',
      withStore(async (s) => {
        await s.put(record('env_a', 1));
        const got = (await s.get('env_a')) as { name: string };
        got.name = 'changed';
        expect((await s.get('env_a'))?.name).toBe('env-a');
      }),
    );

    it(
      'events come back in seq order, filtered by sinceSeq, per environment',
      withStore(async (s) => {
        await s.put(record('env_a', 1));
        await s.put(record('env_b', 1));
        for (let i = 1; i <= 5; i++) await s.appendEvent(event('env_a', i, { data: { i } }));
        await s.appendEvent(event('env_b', 1, { type: 'created' }));
        await s.appendEvent(
          event('env_a', 6, { type: 'transition', from: 'requested', to: 'provisioning' }),
        );
        const all = await s.events('env_a');
        expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
        expect(all[5]).toEqual(
          event('env_a', 6, { type: 'transition', from: 'requested', to: 'provisioning' }),
        );
        expect(all[0]?.data).toEqual({ i: 1 });
        expect((await s.events('env_a', 4)).map((e) => e.seq)).toEqual([5, 6]);
        expect((await s.events('env_b')).length).toBe(1);
      }),
    );

    it(
      'a duplicate (envId, seq) is refused and changes nothing',
      withStore(async (s) => {
        await s.appendEvent(event('env_a', 1));
        let threw = false;
        try {
          await s.appendEvent(event('env_a', 1, { message: 'other' }));
        } catch {
          threw = true;
        }
        expect(threw).toBe(true);
        expect((await s.events('env_a')).map((e) => e.message)).toEqual(['event 1']);
      }),
    );

    it(
      'delete removes the record and its events; deleting twice is fine',
      withStore(async (s) => {
        await s.put(record('env_a', 1));
        await s.appendEvent(event('env_a', 1));
        await s.delete('env_a');
        await s.delete('env_a');
        expect(await s.get('env_a')).toBeUndefined();
        expect(await s.events('env_a')).toEqual([]);
      }),
    );

    if (opts.reopen) {
      const reopen = opts.reopen;
      it('records and events survive reopening', async () => {
        const first = await opts.makeStore();
        const r = record('env_p', 7, { state: 'suspended', host: 'local' });
        await first.store.put(r);
        await first.store.appendEvent(event('env_p', 1));
        const second = await reopen(first.store);
        try {
          expect(await second.store.get('env_p')).toEqual(r);
          expect((await second.store.events('env_p')).length).toBe(1);
        } finally {
          await second.close?.();
          await first.close?.();
        }
      });
    }
  });
}
