/**
 * `virtos env exec` with the real runtime: output and exit codes pass through the daemon's exec
 * (as the environment's user, under its sandbox policy).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nullLogger } from '@virtos/core';
import { applyCrunCgroupRemedy, probeRuntime } from '@virtos/runtime';
import {
  DaemonClient,
  HttpTransport,
  createBuiltins,
  createDaemon,
  homeFiles,
  writePrivateJson,
  type Builtins,
  type Daemon,
} from '@virtos/server';
import { runCli } from '../../program.js';
import type { CliContext } from '../../io.js';

async function skipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts, cgroups)';
  await applyCrunCgroupRemedy().catch(() => []);
  const ok =
    (await probeRuntime('crun')).status === 'ok' || (await probeRuntime('runc')).status === 'ok';
  return ok ? undefined : 'no usable OCI runtime (crun or runc)';
}
const skip = await skipReason();
const CACHE = process.env['VIRTOS_TEST_IMAGE_CACHE'] ?? '/var/cache/virtos-test/images';

describe.skipIf(skip !== undefined)(
  `virtos env exec, real runtime${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let home: string;
    let stateDir: string;
    let builtins: Builtins;
    let daemon: Daemon;
    let client: DaemonClient;

    beforeAll(async () => {
      home = await mkdtemp(join(tmpdir(), 'virtos-cli-exec-'));
      stateDir = `/run/virtos-test-cli-${randomBytes(4).toString('hex')}`;
      builtins = await createBuiltins({ home, stateDir, imageCacheDir: CACHE, logger: nullLogger });
      daemon = await createDaemon({
        home,
        port: 0,
        logger: nullLogger,
        kdf: { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 },
        allowWeakKdf: true,
        makeOrchestrator: builtins.makeOrchestrator,
      });
      const url = await daemon.listen();
      const { token } = await new DaemonClient(new HttpTransport(url, undefined)).initVault(
        'pass phrase',
      );
      await writePrivateJson(homeFiles(home).session, { url, token });
      client = new DaemonClient(new HttpTransport(url, token));
    }, 120_000);
    afterAll(async () => {
      for (const r of await client.list().catch(() => [])) {
        if (r.state !== 'terminated') await client.terminate(r.id).catch(() => undefined);
      }
      await daemon?.close();
      builtins?.dispose();
      await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    }, 120_000);

    it('passes stdout, stderr and the exit code through; runs as uid 1000', async () => {
      const created = await client.create({ request: 'a debian shell with jq' }, { wait: true });
      expect(created.ok).toBe(true);
      const id = (created as { record: { id: string } }).record.id;
      const cli = async (args: string[]) => {
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
        return { code: await runCli(args, ctx), out, err };
      };
      const r = await cli([
        'env',
        'exec',
        id,
        '--',
        '/bin/sh',
        '-c',
        'id -u; echo to-err >&2; exit 3',
      ]);
      expect(r).toEqual({ code: 3, out: '1000\n', err: 'to-err\n' });
      const ok = await cli(['env', 'exec', id, '--', 'jq', '-n', '1+1']);
      expect(ok).toEqual({ code: 0, out: '2\n', err: '' });
      const missing = await cli(['env', 'exec', id, '--', '/nonexistent']);
      expect(missing.code).not.toBe(0);
    });
  },
);
