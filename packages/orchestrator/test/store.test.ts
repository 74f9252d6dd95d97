import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MemoryRegistryStore,
  Orchestrator,
  SqliteRegistryStore,
  describeRegistryStoreSuite,
  type RegistryStore,
} from '../src/index.js';
import { SMALL_HOST, spec } from './harness.js';
import { ProvisionerDouble } from './provisioner-double.js';

const api = { describe, it, expect: expect as never };

describeRegistryStoreSuite(api, 'memory', {
  makeStore: async () => ({ store: new MemoryRegistryStore() }),
});

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'virtos-registry-'));
  dirs.push(dir);
  return join(dir, 'registry.db');
}

describeRegistryStoreSuite(api, 'sqlite', {
  makeStore: async () => {
    const store = new SqliteRegistryStore(tempDb());
    return {
      store,
      close: () => {
        store.close();
        rmSync(join(store.path, '..'), { recursive: true, force: true });
      },
    };
  },
  reopen: async (store: RegistryStore) => {
    const path = (store as SqliteRegistryStore).path;
    (store as SqliteRegistryStore).close();
    const again = new SqliteRegistryStore(path);
    return { store: again, close: () => again.close() };
  },
});

describe('SqliteRegistryStore', () => {
  it('creates the file readable only by its owner', () => {
    const path = tempDb();
    const store = new SqliteRegistryStore(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    store.close();
  });

  it('refuses a path it cannot open with orchestrator.store_failed', () => {
    expect(() => new SqliteRegistryStore('/nonexistent-dir/x/registry.db')).toThrow(
      expect.objectContaining({ code: 'orchestrator.store_failed' }),
    );
  });

  it('round-trips a whole orchestrator life: records and events survive a restart', async () => {
    const path = tempDb();
    const prov = new ProvisionerDouble();
    const first = new Orchestrator({
      store: new SqliteRegistryStore(path),
      provisioner: prov,
      hosts: [SMALL_HOST],
    });
    await first.start();
    const r = await first.create(
      { spec: spec('persist', { display: 'desktop' }), owner: 'alice' },
      { wait: true },
    );
    await first.suspend(r.id);
    const before = await first.events(r.id);
    await first.shutdown();

    const store = new SqliteRegistryStore(path);
    const second = new Orchestrator({ store, provisioner: prov, hosts: [SMALL_HOST] });
    await second.start();
    expect(await second.get(r.id)).toEqual(await first.get(r.id).catch(() => store.get(r.id)));
    expect((await second.get(r.id)).state).toBe('suspended');
    expect(await second.events(r.id)).toEqual(before);
    await second.resume(r.id);
    expect((await second.events(r.id)).at(-1)?.seq).toBe(before.length + 1);
    await second.shutdown();
    store.close();
  });
});

process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
