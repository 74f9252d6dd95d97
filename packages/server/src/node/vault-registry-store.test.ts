import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeRegistryStoreSuite } from '@virtos/orchestrator';
import { MemoryDeviceStore, Vault } from '@virtos/vault';
import { FAST_KDF, PASS } from '../../test/harness.js';
import { VaultRegistryStore } from './vault-registry-store.js';

const opts = {
  kdf: FAST_KDF,
  allowWeakKdf: true,
  idleLockMs: 0,
  deviceStore: new MemoryDeviceStore(),
};
const open = new Map<VaultRegistryStore, { vault: Vault; dir: string; path: string }>();

describeRegistryStoreSuite({ describe, it, expect }, 'VaultRegistryStore (suite)', {
  async makeStore() {
    const dir = await mkdtemp(join(tmpdir(), 'virtos-vstore-'));
    const path = join(dir, 'vault.virtos');
    const vault = await Vault.create(path, PASS, opts);
    const store = new VaultRegistryStore(vault);
    open.set(store, { vault, dir, path });
    return {
      store,
      close: async () => {
        vault.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  async reopen(store) {
    const o = open.get(store as VaultRegistryStore)!;
    o.vault.close();
    const vault = Vault.open(o.path, opts);
    await vault.unlock({ kind: 'passphrase', passphrase: PASS });
    const next = new VaultRegistryStore(vault);
    return { store: next, close: () => vault.close() };
  },
});

describe('VaultRegistryStore', () => {
  it('keeps records sealed: the vault file does not contain record text', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtos-vstore-'));
    try {
      const path = join(dir, 'vault.virtos');
      const vault = await Vault.create(path, PASS, opts);
      const store = new VaultRegistryStore(vault);
      const { sampleSpec } = await import('@virtos/orchestrator');
      await store.put({
        id: 'env_marker',
        name: 'zebra-marker-name',
        owner: 'me',
        spec: sampleSpec('zebra-marker-name'),
        state: 'running',
        host: 'local',
        findings: [],
        priority: 1,
        createdAt: 1,
        updatedAt: 1,
      });
      vault.close();
      const { readFile } = await import('node:fs/promises');
      expect((await readFile(path)).includes('zebra-marker-name')).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
