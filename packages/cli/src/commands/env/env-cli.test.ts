/**
 * `virtos init/unlock/lock` and `virtos env …` against a daemon listening on 127.0.0.1 in this
 * process (fake provisioner, real vault-backed registry): the CLI path over HTTP with session.json.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nullLogger } from '@virtos/core';
import { Orchestrator } from '@virtos/orchestrator';
import { FakeProvisioner } from '@virtos/runtime';
import { createDaemon, VaultRegistryStore, type Daemon } from '@virtos/server';
import { runCli } from '../../program.js';
import type { CliContext } from '../../io.js';
import { lineScript, splitPwd } from './shell.js';

const FAST_KDF = { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const;
let home: string;
let daemon: Daemon;
let passFile: string;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const ctx: CliContext = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    env: { VIRTOS_HOME: home, HOME: home },
    cwd: home,
    readFile: async () => '',
    exitCode: 0,
  };
  const code = await runCli(args, ctx);
  return { code, out, err };
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'virtos-cli-env-'));
  const provisioner = new FakeProvisioner();
  daemon = await createDaemon({
    home,
    port: 0,
    logger: nullLogger,
    kdf: FAST_KDF,
    allowWeakKdf: true,
    makeOrchestrator: (vault, logger) =>
      new Orchestrator({ store: new VaultRegistryStore(vault), provisioner, logger }),
  });
  await daemon.listen();
  passFile = join(home, 'pass.txt');
  writeFileSync(passFile, 'a long enough passphrase\n');
});
afterAll(async () => {
  await daemon.close();
  await rm(home, { recursive: true, force: true });
});

describe('virtos with a running daemon', () => {
  it('env commands before any session are refused with exit 6 and a hint', async () => {
    const r = await cli(['env', 'ls']);
    expect(r.code).toBe(6);
    expect(r.err).toMatch(/virtos unlock/);
  });

  it('init writes session.json (0600); env create --yes, ls, show, exec, suspend, resume, rm', async () => {
    const fd = await import('node:fs').then((fs) => fs.openSync(passFile, 'r'));
    const init = await cli(['init', '--json', '--new-passphrase-fd', String(fd)]);
    expect(init.code, init.err).toBe(0);
    expect(JSON.parse(init.out)).toMatchObject({ ok: true, recoveryKey: expect.any(String) });
    expect((await stat(join(home, 'session.json'))).mode & 0o777).toBe(0o600);

    const created = await cli(['env', 'create', '--yes', '--json', 'a debian shell with git']);
    expect(created.code, created.err).toBe(0);
    const rec = JSON.parse(created.out) as { id: string; name: string; state: string };
    expect(rec.state).toBe('running');

    const ls = await cli(['env', 'ls']);
    expect(ls.out).toContain(rec.id);
    expect(ls.out).toMatch(/running/);
    const lsJson = JSON.parse((await cli(['env', 'ls', '--json'])).out) as {
      environments: unknown[];
    };
    expect(lsJson.environments).toHaveLength(1);

    const show = await cli(['env', 'show', rec.name]);
    expect(show.code).toBe(0);
    expect(show.out).toContain(`id:          ${rec.id}`);

    const ok = await cli(['env', 'exec', rec.id, '--', '/bin/sh', '-c', 'echo hello']);
    expect(ok.code).toBe(0);
    expect(ok.out).toBe('hello\n');
    const fail = await cli(['env', 'exec', rec.id, '--', '/bin/sh', '-c', 'exit 42']);
    expect(fail.code).toBe(42);

    expect((await cli(['env', 'suspend', rec.id])).out).toMatch(/suspended/);
    const again = await cli(['env', 'suspend', rec.id, '--json']);
    expect(again.code).toBe(3);
    expect(JSON.parse(again.out)).toMatchObject({
      ok: false,
      error: { code: 'orchestrator.illegal_operation' },
    });
    const exNot = await cli(['env', 'exec', rec.id, '--', 'true']);
    expect(exNot.code).toBe(3);
    expect((await cli(['env', 'resume', rec.id])).out).toMatch(/running/);

    const ev = await cli(['env', 'events', rec.id, '--json']);
    expect((JSON.parse(ev.out) as { events: unknown[] }).events.length).toBeGreaterThan(3);

    const rm1 = await cli(['env', 'rm', rec.id]);
    expect(rm1.out).toMatch(/terminated/);
    const missing = await cli(['env', 'show', 'env_0000000000000000']);
    expect(missing.code).toBe(7);
  });

  it('a request that does not compose exits 3 with findings and creates nothing', async () => {
    const r = await cli(['env', 'create', '--yes', 'a windows 11 desktop']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/Findings/);
  });

  it('lock ends the session and deletes session.json; unlock opens a new one', async () => {
    const l = await cli(['lock']);
    expect(l.code).toBe(0);
    await expect(stat(join(home, 'session.json'))).rejects.toThrow();
    expect((await cli(['env', 'ls'])).code).toBe(6);
    const fd = await import('node:fs').then((fs) => fs.openSync(passFile, 'r'));
    const u = await cli(['unlock', '--passphrase-fd', String(fd)]);
    expect(u.code, u.err).toBe(0);
    expect((await cli(['env', 'ls'])).code).toBe(0);
  });

  it('--help still shows the help (the bare command starts the daemon)', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/starts the daemon/);
    expect(r.out).toMatch(/env/);
  });
});

describe('line shell helpers', () => {
  it('splits the working directory marker off the output', () => {
    const args = lineScript();
    expect(args[0]).toBe('/bin/sh');
    const { output, cwd } = splitPwd('a\nb\n\n\u001e__virtos_pwd__/home/user\n');
    expect(output).toBe('a\nb\n');
    expect(cwd).toBe('/home/user');
    expect(splitPwd('plain\n')).toEqual({ output: 'plain\n', cwd: undefined });
  });
});

describe('without a daemon', () => {
  it('env create, exec and shell refuse with exit 5 and say why; nothing is started', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'virtos-cli-nodaemon-'));
    try {
      for (const args of [
        ['env', 'create', '--yes', 'a debian shell'],
        ['env', 'exec', 'env_x', '--', 'true'],
        ['env', 'shell', 'env_x'],
        ['env', 'suspend', 'env_x'],
      ]) {
        let err = '';
        const ctx: CliContext = {
          out: () => undefined,
          err: (t) => void (err += t),
          env: { VIRTOS_HOME: empty, HOME: empty },
          cwd: empty,
          readFile: async () => '',
          exitCode: 0,
        };
        expect(await runCli(args, ctx), args.join(' ')).toBe(5);
        expect(err).toMatch(/needs it: .*daemon/);
        expect(err).toMatch(/Hint: Start it with `virtos`/);
      }
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
