/**
 * `virtos env exec` with the real runtime: output and exit codes pass through the daemon's exec
 * (as the environment's user, under its sandbox policy).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../program.js';
import type { CliContext } from '../../io.js';
import type { DaemonClient } from '@virtos/server';
import { realRuntimeSkipReason, startTestDaemon, type TestDaemon } from './test-daemon.js';

const skip = await realRuntimeSkipReason();

describe.skipIf(skip !== undefined)(
  `virtos env exec, real runtime${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let daemon: TestDaemon;
    let home: string;
    let client: DaemonClient;

    beforeAll(async () => {
      daemon = await startTestDaemon('exec');
      ({ home, client } = daemon);
    }, 120_000);
    afterAll(() => daemon?.close(), 120_000);

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
