/**
 * Commands that run embedded (no daemon) while environments run on without it: with the real
 * runtime and the host-mode registry the daemon recorded, `virtos env ls` lists them and leaves them
 * running (it takes nothing over and removes nothing), and `--on-exit suspend` settles them through
 * that registry even while the vault is locked.
 */
import { openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nullLogger } from '@virtos/core';
import { DaemonClient, HttpTransport, runDaemon, type RunningDaemon } from '@virtos/server';
import type { EnvironmentRecord } from '@virtos/orchestrator';
import { runCli } from '../../program.js';
import type { CliContext } from '../../io.js';
import { TEST_IMAGE_CACHE, realRuntimeSkipReason } from './test-daemon.js';

const skip = await realRuntimeSkipReason();
const CACHE = TEST_IMAGE_CACHE;
const PASS = 'a long enough passphrase';

describe.skipIf(skip !== undefined)(
  `embedded commands with environments that outlive the daemon${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let home: string;
    let stateDir: string;
    let passFile: string;
    let current: RunningDaemon | undefined;
    const env = () => ({
      VIRTOS_HOME: home,
      VIRTOS_STATE_DIR: stateDir,
      VIRTOS_IMAGE_CACHE: CACHE,
    });
    /** A daemon in this process, as `virtos --registry host` would start it. */
    const start = async (onExit = 'keep'): Promise<RunningDaemon> =>
      (current = await runDaemon({
        home,
        port: 0,
        say: () => undefined,
        env: env(),
        logger: nullLogger,
        handleSignals: false,
        registry: 'host',
        onExit,
      }));
    const stop = async (): Promise<void> => {
      await current?.stop();
      current = undefined;
    };
    const client = async (d: RunningDaemon, init = false): Promise<DaemonClient> => {
      const anon = new DaemonClient(new HttpTransport(d.url, undefined));
      const { token } = init ? await anon.initVault(PASS) : await anon.unlock({ passphrase: PASS });
      return new DaemonClient(new HttpTransport(d.url, token));
    };
    const cli = async (args: string[]) => {
      let out = '';
      let err = '';
      const ctx: CliContext = {
        out: (t) => void (out += t),
        err: (t) => void (err += t),
        // No VIRTOS_REGISTRY: the daemon's recorded choice decides.
        env: { ...env(), HOME: home },
        cwd: home,
        readFile: async () => '',
        exitCode: 0,
      };
      return { code: await runCli(args, ctx), out, err };
    };

    beforeAll(async () => {
      home = await mkdtemp(join(tmpdir(), 'virtos-cli-embedded-'));
      stateDir = `/run/virtos-test-cli-${randomBytes(4).toString('hex')}`;
      passFile = join(home, 'pass.txt');
      await writeFile(passFile, `${PASS}\n`);
    });
    afterAll(async () => {
      await stop().catch(() => undefined);
      try {
        const d = await start('terminate');
        const c = await client(d);
        for (const r of await c.list()) {
          if (r.state !== 'terminated') await c.terminate(r.id).catch(() => undefined);
        }
      } finally {
        await stop().catch(() => undefined);
        await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
        await rm(home, { recursive: true, force: true });
      }
    }, 180_000);

    it('env ls without a daemon uses the recorded host registry and leaves environments running; --on-exit suspend works while locked', async () => {
      let c = await client(await start(), true);
      const created = await c.create({ request: 'a debian shell' }, { wait: true });
      const id = (created as { record: EnvironmentRecord }).record.id;
      expect((await c.get(id)).state).toBe('running');
      await stop();
      expect(JSON.parse(await readFile(join(home, 'registry.json'), 'utf8'))).toEqual({
        registry: `sqlite:${join(home, 'registry.sqlite')}`,
      });

      // Embedded: the same registry, the environment listed running and not touched.
      const ls = await cli([
        'env',
        'ls',
        '--json',
        '--passphrase-fd',
        String(openSync(passFile, 'r')),
      ]);
      expect(ls.code, ls.err).toBe(0);
      const listed = (JSON.parse(ls.out) as { environments: EnvironmentRecord[] }).environments;
      expect(listed.map((r) => [r.id, r.state])).toEqual([[id, 'running']]);

      // A daemon that is never unlocked settles through the host registry when it stops.
      await start('suspend');
      await stop();

      c = await client(await start());
      expect((await c.get(id)).state).toBe('suspended');
      expect((await c.resume(id)).state).toBe('running');
      let out = '';
      const code = await c.exec(
        id,
        { args: ['/bin/sh', '-c', 'echo still-here'] },
        { stdout: (s) => void (out += s), stderr: () => undefined },
      );
      expect([code, out]).toEqual([0, 'still-here\n']);
      expect((await c.terminate(id)).state).toBe('terminated');
      await stop();
    }, 300_000);
  },
);
