/**
 * `npm run bench:vault`: prints unlock time per unlocker, write/read MB/s for 1 KiB records and
 * 1 MiB blobs, open time of a 1 GB vault, and search p50 over 100k notes.
 * Flags: --small (64 MiB vault, 10k notes, for quick iteration), --keep (leave the files).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DEFAULT_KDF, MemoryDeviceStore, Vault } from '../src/index.js';

const small = process.argv.includes('--small');
const VAULT_MB = small ? 64 : 1024;
const NOTES = small ? 10_000 : 100_000;
const dir = mkdtempSync(join(tmpdir(), 'vault-bench-'));
const MB = 1e6;

const fmt = (n: number, d = 1) => n.toFixed(d);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function line(name: string, value: string, target = ''): void {
  console.log(`${name.padEnd(44)} ${value.padStart(14)}  ${target}`);
}

const opts = { idleLockMs: 0, deviceStore: new MemoryDeviceStore() };

async function main(): Promise<void> {
  console.log(`vault bench (${small ? 'small' : 'full'}), files in ${dir}\n`);

  // --- unlockers, with the default KDF (Argon2id t=3, m=128 MiB, p=1)
  const path = join(dir, 'unlock.virtos');
  let t = performance.now();
  const v = await Vault.create(path, 'bench passphrase', opts);
  line('create (incl. one Argon2id derivation)', `${fmt(performance.now() - t)} ms`);
  const { recoveryKey } = v.addRecoveryKey();
  const prf = randomBytes(32);
  v.addPasskey({ prfOutput: prf, credentialId: 'bench', prfSalt: 'c2FsdA' });
  v.close();
  for (const [name, unlocker] of [
    ['passphrase', { kind: 'passphrase', passphrase: 'bench passphrase' }],
    ['recovery key', { kind: 'recovery', recoveryKey }],
    ['passkey (PRF + HKDF)', { kind: 'passkey', prfOutput: prf }],
  ] as const) {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const w = Vault.open(path, opts);
      t = performance.now();
      await w.unlock(unlocker);
      times.push(performance.now() - t);
      w.close();
    }
    line(
      `unlock: ${name}`,
      `${fmt(median(times))} ms`,
      name === 'passphrase'
        ? `(Argon2id t=${DEFAULT_KDF.opslimit}, m=${DEFAULT_KDF.memlimit >> 20} MiB)`
        : '',
    );
  }

  // --- 1 KiB records
  const rec = await Vault.create(join(dir, 'records.virtos'), 'p', opts);
  const value = randomBytes(768).toString('base64'); // ~1 KiB of JSON
  const N = 20_000;
  t = performance.now();
  for (let b = 0; b < N; b += 1000) {
    await rec.transaction((tx) => {
      for (let i = b; i < b + 1000; i++) tx.records('bench').set(`k${i}`, value);
    });
  }
  let s = (performance.now() - t) / 1000;
  line(
    '1 KiB records write (1000 per commit)',
    `${fmt((N * 1024) / MB / s)} MB/s`,
    `${fmt(N / s, 0)} records/s`,
  );
  t = performance.now();
  const single = 200;
  for (let i = 0; i < single; i++) await rec.records('bench').set(`s${i}`, value);
  s = (performance.now() - t) / 1000;
  line('1 KiB records write (1 per commit, fsync)', `${fmt(single / s, 0)} commits/s`);
  const kv = rec.records('bench');
  t = performance.now();
  for (let i = 0; i < N; i++) kv.get(`k${i}`);
  s = (performance.now() - t) / 1000;
  line(
    '1 KiB records read (by key)',
    `${fmt((N * 1024) / MB / s)} MB/s`,
    `${fmt(N / s, 0)} records/s`,
  );
  rec.close();

  // --- 1 MiB blobs, building the big vault
  const bigPath = join(dir, 'big.virtos');
  const big = await Vault.create(bigPath, 'p', opts);
  const blob = randomBytes(1024 * 1024);
  const writeTimes: number[] = [];
  const ids: string[] = [];
  // Half as separate 1 MiB files (the blob figure), half as one streamed file (the 1 GB file case).
  const blobs = VAULT_MB / 2;
  for (let i = 0; i < blobs; i++) {
    t = performance.now();
    ids.push((await big.files.put(`blob-${i}.bin`, blob)).id);
    writeTimes.push(performance.now() - t);
  }
  const totalW = writeTimes.reduce((a, b) => a + b, 0) / 1000;
  line(
    '1 MiB blob write (1 file per commit)',
    `${fmt((blobs * blob.length) / MB / totalW)} MB/s`,
    '(one journal sync per file)',
  );
  t = performance.now();
  for (let i = 0; i < 64; i += 16) {
    await big.files.putMany(
      Array.from({ length: 16 }, (_, j) => ({ name: `batch-${i + j}`, source: blob })),
    );
  }
  s = (performance.now() - t) / 1000;
  line(
    '1 MiB blob write (16 files per commit)',
    `${fmt((64 * blob.length) / MB / s)} MB/s`,
    'target >= 150',
  );
  const full = await Vault.create(join(dir, 'full.virtos'), 'p', { ...opts, durability: 'FULL' });
  t = performance.now();
  for (let i = 0; i < 100; i++) await full.files.put(`blob-${i}.bin`, blob);
  s = (performance.now() - t) / 1000;
  line('1 MiB blob write, durability FULL', `${fmt((100 * blob.length) / MB / s)} MB/s`);
  full.close();
  async function* stream() {
    for (let i = 0; i < VAULT_MB / 2; i++) yield blob;
  }
  t = performance.now();
  const huge = await big.files.put('huge.bin', stream());
  s = (performance.now() - t) / 1000;
  line(
    `streamed ${VAULT_MB / 2} MiB file write`,
    `${fmt(huge.size / MB / s)} MB/s`,
    `rss ${fmt(process.memoryUsage().rss / 2 ** 20, 0)} MiB`,
  );
  const readTimes: number[] = [];
  for (const id of ids.slice(0, 200)) {
    t = performance.now();
    await big.files.readAll(id);
    readTimes.push(performance.now() - t);
  }
  const totalR = readTimes.reduce((a, b) => a + b, 0) / 1000;
  line(
    '1 MiB blob read',
    `${fmt((readTimes.length * blob.length) / MB / totalR)} MB/s`,
    'target >= 500',
  );
  t = performance.now();
  let n = 0;
  for await (const c of big.files.read(huge.id)) n += c.length;
  s = (performance.now() - t) / 1000;
  line(`streamed ${VAULT_MB / 2} MiB file read`, `${fmt(n / MB / s)} MB/s`);
  big.close();
  const bytes = statSync(bigPath).size;

  // --- open time of the big vault (after key derivation: the recovery key needs none)
  const openTimes: number[] = [];
  const recKey = await (async () => {
    const w = Vault.open(bigPath, opts);
    await w.unlock({ kind: 'passphrase', passphrase: 'p' });
    const r = w.addRecoveryKey();
    w.close();
    return r.recoveryKey;
  })();
  for (let i = 0; i < 5; i++) {
    t = performance.now();
    const w = Vault.open(bigPath, opts);
    await w.unlock({ kind: 'recovery', recoveryKey: recKey });
    w.files.list();
    openTimes.push(performance.now() - t);
    w.close();
  }
  line(
    `open + unlock + list, ${fmt(bytes / 2 ** 30, 2)} GiB vault`,
    `${fmt(median(openTimes))} ms`,
    'target <= 50 (no KDF)',
  );

  // --- search over many notes
  const sv = await Vault.create(join(dir, 'notes.virtos'), 'p', opts);
  const words =
    'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'.split(
      ' ',
    );
  const vocab = Array.from({ length: 5000 }, (_, i) => `${words[i % 26]}${Math.floor(i / 26)}`);
  let seed = 1;
  const rnd = (m: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % m);
  const text = (k: number) => Array.from({ length: k }, () => vocab[rnd(vocab.length)]).join(' ');
  t = performance.now();
  for (let b = 0; b < NOTES; b += 2000) {
    await sv.transaction((tx) => {
      for (let i = b; i < b + 2000; i++)
        tx.notes.create({ title: text(4), body: text(60), tags: [words[i % 26]!] });
    });
  }
  line(
    `insert ${NOTES / 1000}k notes (2000 per commit)`,
    `${fmt((performance.now() - t) / 1000)} s`,
  );
  sv.close();
  const sw = Vault.open(join(dir, 'notes.virtos'), opts);
  await sw.unlock({ kind: 'passphrase', passphrase: 'p' });
  t = performance.now();
  sw.find('warmup');
  line(
    `search index build (first search, ${NOTES / 1000}k notes)`,
    `${fmt(performance.now() - t)} ms`,
  );
  const qt: number[] = [];
  for (let i = 0; i < 200; i++) {
    const q =
      i % 2 ? vocab[rnd(vocab.length)]! : `${vocab[rnd(vocab.length)]} ${vocab[rnd(vocab.length)]}`;
    t = performance.now();
    sw.find(q, 20);
    qt.push(performance.now() - t);
  }
  line(
    `search p50 over ${NOTES / 1000}k notes`,
    `${fmt(median(qt), 2)} ms`,
    `target <= 20; p95 ${fmt([...qt].sort((a, b) => a - b)[190]!, 2)} ms`,
  );
  sw.close();
  if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
}

await main();
