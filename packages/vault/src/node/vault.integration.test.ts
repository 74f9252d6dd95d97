// Integration tests on the real libraries (SQLite, libsodium): damage in every region, truncation,
// foreign files, rollback, kill -9 during writes, no plaintext on disk, and a mutation fuzzer.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtosError } from '@virtos/core';
import { exportVault, importVault } from './transfer.js';
import { MemoryDeviceStore } from './device-store.js';
import { Vault, type VaultOptions } from './vault.js';

const FAST_KDF = { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const;
const MARKER = 'PLAINTEXT-MARKER-7f3a9c';
const opts = (): VaultOptions => ({
  kdf: FAST_KDF,
  allowWeakKdf: true,
  idleLockMs: 0,
  deviceStore: new MemoryDeviceStore(),
});

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vault-int-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function errorOf(fn: () => unknown): Promise<VirtosError | undefined> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof VirtosError) return e;
    throw e;
  }
  return undefined;
}

/** A vault with three notes, a file, a passphrase and a recovery key. */
async function sample(
  name: string,
): Promise<{ path: string; recoveryKey: string; noteIds: string[] }> {
  const path = join(dir, name);
  const v = await Vault.create(path, 'pass', opts());
  const noteIds: string[] = [];
  for (const t of ['alpha', 'beta', 'gamma']) {
    noteIds.push((await v.notes.create({ title: t, body: `${MARKER} ${t}` })).id);
  }
  await v.files.put('doc.txt', Buffer.from(`${MARKER} file`));
  const { recoveryKey } = v.addRecoveryKey();
  v.close();
  return { path, recoveryKey, noteIds };
}

function rawRow<T>(path: string, sql: string): T {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).get() as T;
  } finally {
    db.close();
  }
}

/** Flips one bit of the first occurrence of `needle` in the file. */
function flipInside(path: string, needle: Buffer, offsetInNeedle = 5): void {
  const buf = readFileSync(path);
  const at = buf.indexOf(needle);
  expect(at).toBeGreaterThanOrEqual(0);
  buf[at + offsetInNeedle]! ^= 0x10;
  writeFileSync(path, buf);
}

describe('wrong secrets', () => {
  it('wrong passphrase and wrong recovery key are told apart from damage', async () => {
    const s = await sample('secrets.virtos');
    const v = Vault.open(s.path, opts());
    expect((await errorOf(() => v.unlock({ kind: 'passphrase', passphrase: 'nope' })))?.code).toBe(
      'vault.wrong_passphrase',
    );
    const other = Vault.open((await sample('other.virtos')).path, opts());
    const otherKey = (await sample('other2.virtos')).recoveryKey;
    other.close();
    expect((await errorOf(() => v.unlock({ kind: 'recovery', recoveryKey: otherKey })))?.code).toBe(
      'vault.wrong_recovery_key',
    );
    const typo = s.recoveryKey.slice(0, -1) + (s.recoveryKey.endsWith('A') ? 'B' : 'A');
    expect((await errorOf(() => v.unlock({ kind: 'recovery', recoveryKey: typo })))?.code).toBe(
      'vault.invalid_recovery_key',
    );
    await v.unlock({ kind: 'recovery', recoveryKey: s.recoveryKey.toLowerCase() });
    v.close();
  });
});

describe('bit flips in every region', () => {
  it('header: refused as corrupt header before any key is tried', async () => {
    const s = await sample('flip-header.virtos');
    const h = rawRow<{ mac: Buffer }>(s.path, 'SELECT mac FROM vault_header');
    flipInside(s.path, h.mac);
    const e = await errorOf(() => Vault.open(s.path, opts()));
    expect(e?.code).toBe('vault.corrupt');
    expect(e?.details?.['region']).toBe('header');
  });

  it('header counter forged with a recomputed checksum: caught by the keyed MAC', async () => {
    const s = await sample('forge-header.virtos');
    const db = new Database(s.path);
    db.prepare('UPDATE vault_header SET counter = counter - 1').run();
    db.close();
    const e = await errorOf(() => Vault.open(s.path, opts()));
    expect(e?.code).toBe('vault.corrupt');
  });

  it('key slot: the damaged slot is reported, the other unlocker still opens everything', async () => {
    const s = await sample('flip-slot.virtos');
    const slot = rawRow<{ wrapped: Buffer }>(
      s.path,
      "SELECT wrapped FROM key_slots WHERE kind = 'passphrase'",
    );
    flipInside(s.path, slot.wrapped);
    const v = Vault.open(s.path, opts());
    expect(v.unlockers().find((u) => u.kind === 'passphrase')?.isIntact).toBe(false);
    const e = await errorOf(() => v.unlock({ kind: 'passphrase', passphrase: 'pass' }));
    expect(e?.code).toBe('vault.corrupt');
    expect(e?.details?.['region']).toBe('key_slot');
    await v.unlock({ kind: 'recovery', recoveryKey: s.recoveryKey });
    expect(v.notes.list()).toHaveLength(3);
    const report = v.verify();
    expect(report.problems.map((p) => p.region)).toContain('key_slot');
    v.close();
  });

  it('data record: that record is reported precisely, the others stay readable', async () => {
    const s = await sample('flip-record.virtos');
    const v0 = Vault.open(s.path, opts());
    await v0.unlock({ kind: 'passphrase', passphrase: 'pass' });
    const victim = v0.blindId('notes', s.noteIds[1]!);
    v0.close();
    const row = rawRow<{ ct: Buffer }>(
      s.path,
      `SELECT ct FROM objects WHERE hex(id) = '${victim.toString('hex').toUpperCase()}'`,
    );
    flipInside(s.path, row.ct, 100);
    const v = Vault.open(s.path, opts());
    await v.unlock({ kind: 'passphrase', passphrase: 'pass' });
    const e = await errorOf(() => v.notes.get(s.noteIds[1]!));
    expect(e?.code).toBe('vault.corrupt');
    expect(e?.details?.['region']).toBe('record');
    expect(
      v.notes
        .list()
        .map((n) => n.title)
        .sort(),
    ).toEqual(['alpha', 'gamma']);
    expect(v.problems()).toHaveLength(1);
    const report = v.verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ region: 'record', subject: victim.toString('hex') }),
    ]);
    v.close();
  });

  it('file chunk: reading the file fails with corrupt chunk, notes are intact', async () => {
    const s = await sample('flip-chunk.virtos');
    const row = rawRow<{ ct: Buffer }>(s.path, 'SELECT ct FROM chunks');
    flipInside(s.path, row.ct, 60);
    const v = Vault.open(s.path, opts());
    await v.unlock({ kind: 'passphrase', passphrase: 'pass' });
    const f = v.files.list()[0]!;
    const e = await errorOf(() => v.files.readAll(f.id));
    expect(e?.details?.['region']).toBe('chunk');
    expect(v.notes.list()).toHaveLength(3);
    expect(v.verify().problems.map((p) => p.region)).toEqual(['chunk']);
    v.close();
  });

  it('chain: a flipped old entry is reported by verify; a flipped last entry refuses unlock', async () => {
    const s = await sample('flip-chain.virtos');
    const mid = rawRow<{ changes: Buffer }>(s.path, 'SELECT changes FROM chain WHERE counter = 2');
    flipInside(s.path, mid.changes, 30);
    const v = Vault.open(s.path, opts());
    await v.unlock({ kind: 'passphrase', passphrase: 'pass' });
    const report = v.verify();
    expect(report.problems.some((p) => p.region === 'chain' && p.subject === '2')).toBe(true);
    v.close();
    const last = rawRow<{ at: number; prev: Buffer }>(
      s.path,
      'SELECT at, prev FROM chain ORDER BY counter DESC LIMIT 1',
    );
    flipInside(s.path, last.prev, 3);
    const w = Vault.open(s.path, opts());
    const e = await errorOf(() => w.unlock({ kind: 'passphrase', passphrase: 'pass' }));
    expect(e?.code).toBe('vault.corrupt');
    expect(e?.details?.['region']).toBe('chain');
    w.close();
  });

  it('a row rolled back to an older version is caught by verify', async () => {
    const path = join(dir, 'row-rollback.virtos');
    const v = await Vault.create(path, 'pass', opts());
    const n = await v.notes.create({ title: 'v1' });
    const id = v.blindId('notes', n.id);
    v.close();
    const old = rawRow<{ seq: number; ct: Buffer }>(path, 'SELECT seq, ct FROM objects');
    const w = Vault.open(path, opts());
    await w.unlock({ kind: 'passphrase', passphrase: 'pass' });
    await w.notes.update(n.id, { title: 'v2' });
    w.close();
    const db = new Database(path);
    db.prepare('UPDATE objects SET seq = ?, ct = ? WHERE id = ?').run(old.seq, old.ct, id);
    db.close();
    const x = Vault.open(path, opts());
    await x.unlock({ kind: 'passphrase', passphrase: 'pass' });
    expect(x.verify().problems.some((p) => /rolled back/.test(p.message))).toBe(true);
    x.close();
  });
});

describe('truncated and foreign files', () => {
  it('refuses truncated files clearly', async () => {
    const s = await sample('trunc.virtos');
    const size = statSync(s.path).size;
    truncateSync(s.path, size - 4096);
    expect((await errorOf(() => Vault.open(s.path, opts())))?.code).toBe('vault.truncated');
    truncateSync(s.path, 1000);
    expect((await errorOf(() => Vault.open(s.path, opts())))?.code).toBe('vault.truncated');
    truncateSync(s.path, 50);
    expect((await errorOf(() => Vault.open(s.path, opts())))?.code).toBe('vault.truncated');
    truncateSync(s.path, 0);
    expect((await errorOf(() => Vault.open(s.path, opts())))?.code).toBe('vault.truncated');
  });

  it('refuses foreign files clearly', async () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello world, this is just a text file and not a vault at all.'.repeat(10));
    expect((await errorOf(() => Vault.open(text, opts())))?.code).toBe('vault.foreign_file');
    const other = join(dir, 'other.sqlite');
    const db = new Database(other);
    db.exec('CREATE TABLE t (x)');
    db.close();
    expect((await errorOf(() => Vault.open(other, opts())))?.code).toBe('vault.foreign_file');
    expect((await errorOf(() => Vault.open(join(dir, 'missing'), opts())))?.code).toBe(
      'vault.not_found',
    );
  });
});

describe('rollback to an older copy', () => {
  it('is detected with the device record and a swapped vault too', async () => {
    const store = new MemoryDeviceStore();
    const o = { ...opts(), deviceStore: store };
    const path = join(dir, 'rb.virtos');
    const v = await Vault.create(path, 'pass', o);
    await v.notes.create({ title: 'one' });
    v.close();
    copyFileSync(path, join(dir, 'rb-old.virtos'));
    const w = Vault.open(path, o);
    await w.unlock({ kind: 'passphrase', passphrase: 'pass' });
    await w.notes.create({ title: 'two' });
    w.close();
    copyFileSync(join(dir, 'rb-old.virtos'), path);
    const x = Vault.open(path, o);
    const e = await errorOf(() => x.unlock({ kind: 'passphrase', passphrase: 'pass' }));
    expect(e?.code).toBe('vault.rolled_back');
    expect(e?.message).toMatch(/older than the last one opened on this device/);
    x.close();
  });
});

describe('unlockers without re-encryption', () => {
  it('adding and removing unlockers leaves every sealed record byte-identical', async () => {
    const s = await sample('noreenc.virtos');
    const snapshot = () => {
      const db = new Database(s.path, { readonly: true });
      const rows = db
        .prepare('SELECT hex(id) || hex(ct) AS r FROM objects ORDER BY id')
        .pluck()
        .all();
      const chunks = db.prepare('SELECT hex(ct) FROM chunks ORDER BY file, idx').pluck().all();
      db.close();
      return JSON.stringify([rows, chunks]);
    };
    const before = snapshot();
    const v = Vault.open(s.path, opts());
    await v.unlock({ kind: 'passphrase', passphrase: 'pass' });
    const added = v.addPassphrase('second');
    v.addPasskey({ prfOutput: Buffer.alloc(32, 9), credentialId: 'c', prfSalt: 's' });
    v.removeUnlocker(added.id);
    v.changePassphrase('third');
    v.close();
    expect(snapshot()).toBe(before);
    const w = Vault.open(s.path, opts());
    await w.unlock({ kind: 'passphrase', passphrase: 'third' });
    expect(w.verify().ok).toBe(true);
    w.close();
  });
});

describe('nothing decrypted on disk', () => {
  it('no marker in the vault or its directory, during and after writes; no temp files', async () => {
    const sub = mkdtempSync(join(dir, 'grep-'));
    const path = join(sub, 'vault.virtos');
    const tmpBefore = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('etilqs')));
    const v = await Vault.create(path, 'pass', opts());
    const grepDir = () => {
      for (const f of readdirSync(sub)) {
        const content = readFileSync(join(sub, f));
        expect(content.includes(MARKER), `marker found in ${f}`).toBe(false);
        expect(content.includes('Secret Title'), `title found in ${f}`).toBe(false);
      }
      return readdirSync(sub);
    };
    let seenDuring: string[] = [];
    async function* slow() {
      for (let i = 0; i < 4; i++) {
        yield Buffer.from(`${MARKER} chunk ${i} `.repeat(40_000));
        seenDuring = grepDir();
      }
    }
    await v.notes.create({ title: 'Secret Title', body: MARKER.repeat(100), tags: ['t'] });
    await v.files.put('Secret Title.txt', slow());
    expect(seenDuring).toContain('vault.virtos-journal');
    v.find('marker');
    grepDir();
    v.close();
    expect(grepDir()).toEqual(['vault.virtos']);
    const tmpAfter = readdirSync(tmpdir()).filter(
      (f) => f.startsWith('etilqs') && !tmpBefore.has(f),
    );
    expect(tmpAfter).toEqual([]);
    for (const f of readdirSync('/var/tmp')) expect(f.startsWith('etilqs')).toBe(false);
  });
});

describe('kill -9 during writes', () => {
  it('leaves the vault openable with every committed write present, hundreds of times', async () => {
    const path = join(dir, 'kill.virtos');
    // Bundled once so each child starts in ~0.2 s without a TypeScript loader; it lives under the
    // package's node_modules so the native modules resolve.
    const { build } = await import('esbuild');
    const script = resolve(import.meta.dirname, '../../node_modules/.cache/vault-kill-writer.mjs');
    await build({
      entryPoints: [resolve(import.meta.dirname, '../../test/kill-writer.ts')],
      outfile: script,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['better-sqlite3-multiple-ciphers', 'sodium-native'],
      logLevel: 'error',
    });
    const iterations = Number(process.env['VAULT_KILL_ITERATIONS'] ?? 200);
    const deadline = Date.now() + Number(process.env['VAULT_KILL_BUDGET_MS'] ?? 150_000);
    let done = 0;
    let lost = 0;
    let corrupt = 0;
    let maxCommitted = 0;
    while (done < iterations && Date.now() < deadline) {
      const committed = await new Promise<number>((res) => {
        const child = spawn(process.execPath, [script, path, 'pass'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let last = 0;
        let out = '';
        let timer: NodeJS.Timeout | undefined;
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = out.match(/committed (\d+)\n(?![\s\S]*committed)/);
          if (m) last = Number(m[1]);
          // Kill at a random instant once the child writes.
          timer ??= setTimeout(() => child.kill('SIGKILL'), Math.random() * 120);
        });
        child.on('exit', () => {
          if (timer) clearTimeout(timer);
          res(last);
        });
      });
      try {
        const v = Vault.open(path, opts());
        await v.unlock({ kind: 'passphrase', passphrase: 'pass' });
        const counter = v.status().counter;
        if (counter < committed) lost++;
        if (done % 25 === 0 && !v.verify().ok) corrupt++;
        maxCommitted = Math.max(maxCommitted, counter);
        v.close();
      } catch {
        corrupt++;
      }
      done++;
    }
    const v = Vault.open(path, opts());
    await v.unlock({ kind: 'passphrase', passphrase: 'pass' });
    expect(v.verify()).toMatchObject({ ok: true });
    v.close();
    console.log(
      `kill -9: ${done} iterations, ${maxCommitted} commits, ${corrupt} corrupt, ${lost} lost`,
    );
    expect(done).toBeGreaterThanOrEqual(Math.min(iterations, 100));
    expect(corrupt).toBe(0);
    expect(lost).toBe(0);
  }, 200_000);
});

describe('transfer', () => {
  it('export writes a manifest and fingerprint; import verifies and refuses mismatches', async () => {
    const s = await sample('xfer.virtos');
    const v = Vault.open(s.path, opts());
    const out = join(dir, 'xfer-copy.virtos');
    const r = await exportVault(v, out);
    v.close();
    expect(r.fingerprint).toMatch(/^[0-9a-f]{4}(-[0-9a-f]{4}){4}$/);
    const dest = join(dir, 'xfer-dest', 'vault.virtos');
    const got = await importVault(out, dest);
    expect(got.fingerprint).toBe(r.fingerprint);
    const w = Vault.open(dest, opts());
    await w.unlock({ kind: 'passphrase', passphrase: 'pass' });
    expect(w.notes.list()).toHaveLength(3);
    w.close();
    const buf = readFileSync(out);
    buf[buf.length - 10]! ^= 1;
    writeFileSync(out, buf);
    const e = await errorOf(() => importVault(out, join(dir, 'xfer-dest2.virtos')));
    expect(e?.code).toBe('vault.manifest_mismatch');
    expect((await errorOf(() => importVault(s.path, dest)))?.code).toBe('vault.manifest_mismatch');
  });
});

describe('fuzz: mutated vault files', () => {
  it('never crashes; every failure is a coded vault error', async () => {
    const s = await sample('fuzz-base.virtos');
    const base = readFileSync(s.path);
    const seedEnv = Number(process.env['VAULT_FUZZ_SEED'] ?? 12345);
    let seed = seedEnv;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const codes = new Map<string, number>();
    const path = join(dir, 'fuzz.virtos');
    const runs = Number(process.env['VAULT_FUZZ_RUNS'] ?? 400);
    for (let i = 0; i < runs; i++) {
      let buf = Buffer.from(base);
      const kind = rnd(6);
      if (kind === 0) {
        for (let j = 0; j <= rnd(4); j++) buf[rnd(buf.length)]! ^= 1 << rnd(8);
      } else if (kind === 1) {
        const at = rnd(buf.length);
        buf.fill(rnd(256), at, Math.min(buf.length, at + 1 + rnd(512)));
      } else if (kind === 2) {
        buf = buf.subarray(0, rnd(buf.length));
      } else if (kind === 3) {
        buf = Buffer.concat([buf, Buffer.alloc(1 + rnd(5000), rnd(256))]);
      } else if (kind === 4) {
        buf[rnd(100)]! ^= 1 << rnd(8);
      } else {
        const page = 4096 * rnd(Math.floor(buf.length / 4096));
        buf[page + rnd(64)]! ^= 1 << rnd(8);
      }
      writeFileSync(path, buf);
      let code = 'ok';
      let v: Vault | undefined;
      try {
        v = Vault.open(path, opts());
        await v.unlock({ kind: 'passphrase', passphrase: 'pass' });
        v.notes.list();
        for (const f of v.files.list()) await v.files.readAll(f.id);
        v.find('alpha');
        const report = v.verify();
        if (!report.ok) code = 'verify-problems';
      } catch (e) {
        if (!(e instanceof VirtosError) || !e.code.startsWith('vault.')) {
          throw new Error(`run ${i} (kind ${kind}): uncoded error ${String(e)}`, { cause: e });
        }
        code = e.code;
      } finally {
        v?.close();
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    console.log('fuzz outcomes:', Object.fromEntries(codes));
    expect([...codes.values()].reduce((a, b) => a + b)).toBe(runs);
  }, 120_000);
});
