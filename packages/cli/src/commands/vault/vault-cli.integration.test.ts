// End-to-end: the real `virtos` binary, passphrases through file descriptors and a stdin pipe.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../../../bin/virtos.js');
const home = mkdtempSync(join(tmpdir(), 'vault-cli-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `virtos` with fds 3 and 4 fed from `fds` and stdin from `stdin`. */
function virtos(
  args: string[],
  opts: { fds?: Record<number, string>; stdin?: string; home?: string } = {},
): Promise<Run> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, VIRTOS_HOME: opts.home ?? home },
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    for (const fd of [3, 4] as const) {
      const s = child.stdio[fd] as NodeJS.WritableStream;
      s.end(opts.fds?.[fd] ?? '');
    }
    child.stdin!.end(opts.stdin ?? '');
    child.on('exit', (code) => res({ code: code ?? -1, out, err }));
  });
}

const pw = { fds: { 3: 'hunter2 passphrase\n' } };

describe('virtos vault (end to end)', () => {
  let recoveryKey = '';
  let noteId = '';

  it('init, note add/list/show/search, with passphrases from a fd', async () => {
    const init = await virtos(
      ['vault', 'init', '--new-passphrase-fd', '3', '--with-recovery-key', '--json'],
      pw,
    );
    expect(init.code, init.err + init.out).toBe(0);
    recoveryKey = (JSON.parse(init.out) as { recoveryKey: string }).recoveryKey;
    expect(recoveryKey).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){12}$/);
    const add = await virtos(
      [
        'vault',
        'note',
        'add',
        '--title',
        'Trip plan',
        '--body',
        'pack the zebra umbrella',
        '--tag',
        'travel',
        '--passphrase-fd',
        '3',
      ],
      pw,
    );
    expect(add.code, add.err).toBe(0);
    noteId = add.out.trim();
    const list = await virtos(['vault', 'note', 'list', '--json', '--passphrase-fd', '3'], pw);
    expect(JSON.parse(list.out).notes[0].title).toBe('Trip plan');
    const show = await virtos(['vault', 'note', 'show', noteId], { stdin: 'hunter2 passphrase\n' });
    expect(show.code, show.err).toBe(0);
    expect(show.out).toContain('pack the zebra umbrella');
    const search = await virtos(['vault', 'note', 'search', 'zebra', '--passphrase-fd', '3'], pw);
    expect(search.out).toContain(noteId);
    const raw = readFileSync(join(home, 'vault.virtos'));
    expect(raw.includes('zebra')).toBe(false);
  }, 60_000);

  it('wrong passphrase exits 6 and says so', async () => {
    const r = await virtos(['vault', 'unlock', '--passphrase-fd', '3'], { fds: { 3: 'nope\n' } });
    expect(r.code).toBe(6);
    expect(r.err).toMatch(/Wrong passphrase/);
  }, 30_000);

  it('files put/get/ls', async () => {
    const src = join(home, 'in.bin');
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 0x5a);
    writeFileSync(src, data);
    const put = await virtos(
      ['vault', 'file', 'put', src, '--name', 'blob.bin', '--passphrase-fd', '3'],
      pw,
    );
    expect(put.code, put.err).toBe(0);
    const ls = await virtos(['vault', 'file', 'ls', '--json', '--passphrase-fd', '3'], pw);
    expect(JSON.parse(ls.out).files[0]).toMatchObject({ name: 'blob.bin', size: data.length });
    const out = join(home, 'out.bin');
    const get = await virtos(
      ['vault', 'file', 'get', 'blob.bin', '-o', out, '--passphrase-fd', '3'],
      pw,
    );
    expect(get.code, get.err).toBe(0);
    expect(readFileSync(out).equals(data)).toBe(true);
  }, 60_000);

  it('recovery key, passwd with two fds, unlockers, verify', async () => {
    const rec = await virtos(['vault', 'unlock', '--recovery-key-fd', '3'], {
      fds: { 3: recoveryKey + '\n' },
    });
    expect(rec.code, rec.err).toBe(0);
    const pass = await virtos(
      ['vault', 'passwd', '--passphrase-fd', '3', '--new-passphrase-fd', '4'],
      {
        fds: { 3: 'hunter2 passphrase\n', 4: 'new passphrase\n' },
      },
    );
    expect(pass.code, pass.err).toBe(0);
    const old = await virtos(['vault', 'unlock', '--passphrase-fd', '3'], pw);
    expect(old.code).toBe(6);
    const list = await virtos(['vault', 'list-unlockers', '--json']);
    const unlockers = JSON.parse(list.out).unlockers as { id: string; kind: string }[];
    expect(unlockers.map((u) => u.kind).sort()).toEqual(['passphrase', 'recovery']);
    const np = { fds: { 3: 'new passphrase\n' } };
    const rm = await virtos(
      [
        'vault',
        'remove-unlocker',
        unlockers.find((u) => u.kind === 'recovery')!.id,
        '--passphrase-fd',
        '3',
      ],
      np,
    );
    expect(rm.code, rm.err).toBe(0);
    const last = await virtos(
      [
        'vault',
        'remove-unlocker',
        unlockers.find((u) => u.kind === 'passphrase')!.id,
        '--passphrase-fd',
        '3',
      ],
      np,
    );
    expect(last.code).toBe(3);
    const verify = await virtos(['vault', 'verify', '--passphrase-fd', '3'], np);
    expect(verify.code, verify.out + verify.err).toBe(0);
    expect(verify.out).toContain('Vault OK');
  }, 90_000);

  it('export/import with a fingerprint; a tampered copy is refused', async () => {
    const dest = join(home, 'transfer.virtos');
    const exp = await virtos(['vault', 'export', dest, '--json']);
    expect(exp.code, exp.err).toBe(0);
    const fp = JSON.parse(exp.out).fingerprint as string;
    const other = mkdtempSync(join(tmpdir(), 'vault-cli-other-'));
    const imp = await virtos(['vault', 'import', dest, '--json'], { home: other });
    expect(imp.code, imp.err).toBe(0);
    expect(JSON.parse(imp.out).fingerprint).toBe(fp);
    const buf = readFileSync(dest);
    buf[buf.length - 100]! ^= 4;
    writeFileSync(dest, buf);
    const bad = await virtos(['vault', 'import', dest, '--replace'], { home: other });
    expect(bad.code).toBe(3);
    expect(bad.err).toMatch(/does not match its manifest/);
    rmSync(other, { recursive: true, force: true });
  }, 60_000);

  it('detects a rollback to an older copy, and refuses foreign files', async () => {
    const np = { fds: { 3: 'new passphrase\n' } };
    const path = join(home, 'vault.virtos');
    copyFileSync(path, join(home, 'old.virtos'));
    await virtos(['vault', 'note', 'add', '--title', 'newer', '--passphrase-fd', '3'], np);
    copyFileSync(join(home, 'old.virtos'), path);
    const r = await virtos(['vault', 'note', 'list', '--passphrase-fd', '3'], np);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/older than the last one opened on this device/);
    const foreign = join(home, 'foreign.txt');
    writeFileSync(foreign, 'not a vault '.repeat(20));
    const f = await virtos(['vault', 'status', '--vault', foreign]);
    expect(f.code).toBe(4);
    expect(f.err).toMatch(/not a VirtOS vault/);
  }, 60_000);
});
