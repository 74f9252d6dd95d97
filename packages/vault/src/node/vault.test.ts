import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@virtos/core';
import { VaultErrors } from '../errors.js';
import { MemoryDeviceStore } from './device-store.js';
import { Vault, type VaultOptions } from './vault.js';

const FAST_KDF = { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const;

let dir: string;
let path: string;
let opts: VaultOptions;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vault-unit-'));
  path = join(dir, 'vault.virtos');
  opts = { kdf: FAST_KDF, allowWeakKdf: true, deviceStore: new MemoryDeviceStore(), idleLockMs: 0 };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'no error';
}

describe('Vault', () => {
  it('creates, locks, unlocks with the passphrase and keeps notes', async () => {
    const v = await Vault.create(path, 'correct horse', opts);
    const n = await v.notes.create({ title: 'Hello', body: 'secret body', tags: ['b', 'a', 'a'] });
    expect(n.tags).toEqual(['a', 'b']);
    v.close();
    const w = Vault.open(path, opts);
    expect(w.isUnlocked).toBe(false);
    expect(() => w.notes.list()).toThrow(/locked/);
    await w.unlock({ kind: 'passphrase', passphrase: 'correct horse' });
    expect(w.notes.get(n.id)?.body).toBe('secret body');
    w.close();
  });

  it('says wrong passphrase, not corrupt', async () => {
    (await Vault.create(path, 'right', opts)).close();
    const v = Vault.open(path, opts);
    expect(await codeOf(v.unlock({ kind: 'passphrase', passphrase: 'wrong' }))).toBe(
      'vault.wrong_passphrase',
    );
    v.close();
  });

  it('refuses KDF parameters below the floor unless allowed for tests', async () => {
    expect(await codeOf(Vault.create(path, 'x', { kdf: FAST_KDF }))).toBe('vault.weak_kdf');
  });

  it('keeps revisions and updates the search index', async () => {
    const v = await Vault.create(path, 'p', opts);
    const n = await v.notes.create({ title: 'Groceries', body: 'apples and pears' });
    expect(v.notes.search('apple').map((h) => h.id)).toEqual([n.id]);
    await v.notes.update(n.id, { body: 'bananas' });
    expect(v.notes.search('apple')).toEqual([]);
    expect(v.notes.search('banana')[0]?.id).toBe(n.id);
    expect(v.notes.revisions(n.id).map((r) => r.body)).toEqual(['apples and pears']);
    expect(v.notes.get(n.id)?.revision).toBe(2);
    await v.notes.remove(n.id);
    expect(v.notes.search('banana')).toEqual([]);
    expect(v.notes.revisions(n.id)).toEqual([]);
    v.close();
  });

  it('runs a transaction atomically and fires one change event', async () => {
    const v = await Vault.create(path, 'p', opts);
    const events: number[] = [];
    v.onDidChange((e) => events.push(e.changes.length));
    await expect(
      v.transaction((tx) => {
        tx.notes.create({ title: 'a' });
        tx.settings.set('theme', 'dark');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(v.notes.list()).toEqual([]);
    expect(v.status().counter).toBe(0);
    await v.transaction((tx) => {
      tx.notes.create({ title: 'a' });
      tx.records('orchestrator.registry').set('env-1', { state: 'running' });
    });
    expect(events).toEqual([2]);
    expect(v.records('orchestrator.registry').entries()).toHaveLength(1);
    expect(v.status().counter).toBe(1);
    v.close();
  });

  it('stores settings and records', async () => {
    const v = await Vault.create(path, 'p', opts);
    await v.settings.set('theme', { dark: true });
    expect(v.settings.get('theme')).toEqual({ dark: true });
    expect(await v.settings.delete('theme')).toBe(true);
    expect(v.settings.get('theme')).toBeUndefined();
    v.close();
  });

  it('streams files in chunks and finds them by name', async () => {
    const v = await Vault.create(path, 'p', opts);
    const big = Buffer.alloc(2.5 * 1024 * 1024, 7);
    async function* src() {
      for (let i = 0; i < big.length; i += 300_000) yield big.subarray(i, i + 300_000);
    }
    const f = await v.files.put('holiday photo.jpg', src(), { mime: 'image/jpeg' });
    expect(f.chunks).toBe(3);
    expect((await v.files.readAll(f.id)).equals(big)).toBe(true);
    expect(v.find('holiday')[0]?.kind).toBe('file');
    const g = await v.files.put('holiday photo.jpg', Buffer.from('small'), { id: f.id });
    expect(g.chunks).toBe(1);
    expect((await v.files.readAll(f.id)).toString()).toBe('small');
    expect(v.verify().problems).toEqual([]);
    await v.files.remove(f.id);
    expect(v.files.list()).toEqual([]);
    v.close();
  });

  it('adds and removes unlockers without touching the data', async () => {
    const v = await Vault.create(path, 'one', opts);
    await v.notes.create({ title: 'kept' });
    const before = v.verify();
    const { recoveryKey } = v.addRecoveryKey();
    const second = v.addPassphrase('two');
    expect(v.unlockers()).toHaveLength(3);
    const first = v.unlockers().find((u) => u.label === 'passphrase' && u.id !== second.id)!;
    v.removeUnlocker(first.id);
    expect(v.verify().objects).toBe(before.objects);
    expect(v.status().counter).toBe(before.counter);
    v.close();
    const w = Vault.open(path, opts);
    expect(await codeOf(w.unlock({ kind: 'passphrase', passphrase: 'one' }))).toBe(
      'vault.wrong_passphrase',
    );
    await w.unlock({ kind: 'recovery', recoveryKey });
    expect(w.notes.list()[0]?.title).toBe('kept');
    w.lock();
    await w.unlock({ kind: 'passphrase', passphrase: 'two' });
    const all = w.unlockers();
    w.removeUnlocker(all.find((u) => u.kind === 'recovery')!.id);
    expect(await codeOf(() => w.removeUnlocker(second.id))).toBe('vault.last_unlocker');
    w.close();
  });

  it('changes the passphrase', async () => {
    const v = await Vault.create(path, 'old', opts);
    v.changePassphrase('new');
    v.close();
    const w = Vault.open(path, opts);
    expect(await codeOf(w.unlock({ kind: 'passphrase', passphrase: 'old' }))).toBe(
      'vault.wrong_passphrase',
    );
    await w.unlock({ kind: 'passphrase', passphrase: 'new' });
    w.close();
  });

  it('locks after idle time driven by the clock and wipes keys', async () => {
    const clock = new ManualClock(1000);
    const v = await Vault.create(path, 'p', { ...opts, clock, idleLockMs: 60_000 });
    const reasons: string[] = [];
    v.onDidLock((r) => reasons.push(r));
    clock.advance(30_000);
    v.notes.list();
    clock.advance(59_000);
    expect(v.isUnlocked).toBe(true);
    clock.advance(2_000);
    expect(v.isUnlocked).toBe(false);
    expect(reasons).toEqual(['idle']);
    expect(await codeOf(() => v.notes.list())).toBe('vault.locked');
    v.close();
  });

  it('detects a rollback to an older copy with the device record', async () => {
    const store = new MemoryDeviceStore();
    const o = { ...opts, deviceStore: store };
    const v = await Vault.create(path, 'p', o);
    await v.notes.create({ title: 'first' });
    v.close();
    const { copyFileSync } = await import('node:fs');
    copyFileSync(path, join(dir, 'old.virtos'));
    const w = Vault.open(path, o);
    await w.unlock({ kind: 'passphrase', passphrase: 'p' });
    await w.notes.create({ title: 'second' });
    w.close();
    copyFileSync(join(dir, 'old.virtos'), path);
    const x = Vault.open(path, o);
    expect(await codeOf(x.unlock({ kind: 'passphrase', passphrase: 'p' }))).toBe(
      'vault.rolled_back',
    );
    await x.unlock({ kind: 'passphrase', passphrase: 'p' }, { acceptRollback: true });
    x.close();
  });

  it('passkey slots derive the KEK with HKDF from the PRF output', async () => {
    const prf = Buffer.alloc(32, 0x42);
    const v = await Vault.create(path, 'p', opts);
    v.addPasskey({ prfOutput: prf, credentialId: 'cred-1', prfSalt: 'c2FsdA' });
    v.close();
    const w = Vault.open(path, opts);
    expect(await codeOf(w.unlock({ kind: 'passkey', prfOutput: Buffer.alloc(32, 1) }))).toBe(
      'vault.wrong_passkey',
    );
    await w.unlock({ kind: 'passkey', prfOutput: Buffer.alloc(32, 0x42), credentialId: 'cred-1' });
    expect(w.unlockers().find((u) => u.kind === 'passkey')?.prfSalt).toBe('c2FsdA');
    w.close();
  });

  it('refuses to create over an existing file', async () => {
    (await Vault.create(path, 'p', opts)).close();
    expect(await codeOf(Vault.create(path, 'p', opts))).toBe('vault.already_exists');
    expect(VaultErrors.is(new Error('x'))).toBe(false);
  });
});
