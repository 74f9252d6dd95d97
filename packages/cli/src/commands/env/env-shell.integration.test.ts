/**
 * `virtos env shell` on a real pseudo-terminal with the real runtime: `script` gives the CLI a
 * terminal, the CLI opens the daemon's terminal stream, a typed command answers, and the shell's
 * exit code becomes the CLI's. Without a terminal the same command is a line shell.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonClient } from '@virtos/server';
import { realRuntimeSkipReason, startTestDaemon, type TestDaemon } from './test-daemon.js';

const skip = await realRuntimeSkipReason();
const VIRTOS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bin/virtos.js');

/** Output collected from a child, with a wait for a pattern (failing with what was seen). */
function collect(child: ChildProcessWithoutNullStreams): {
  text: () => string;
  until: (re: RegExp) => Promise<void>;
  exit: Promise<number>;
} {
  let text = '';
  const waiters: { re: RegExp; done: () => void }[] = [];
  const onData = (d: Buffer): void => {
    text += d.toString('utf8');
    for (const w of waiters.splice(0)) {
      if (w.re.test(text)) w.done();
      else waiters.push(w);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exit = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
  return {
    text: () => text,
    until: (re) =>
      re.test(text)
        ? Promise.resolve()
        : new Promise<void>((done, fail) => {
            const timer = setTimeout(
              () => fail(new Error(`${re} not seen; output: ${JSON.stringify(text)}`)),
              60_000,
            );
            waiters.push({
              re,
              done: () => {
                clearTimeout(timer);
                done();
              },
            });
          }),
    exit,
  };
}

describe.skipIf(skip !== undefined)(
  `virtos env shell, real runtime${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let daemon: TestDaemon;
    let home: string;
    let client: DaemonClient;
    let id: string;

    beforeAll(async () => {
      daemon = await startTestDaemon('shell');
      ({ home, client } = daemon);
      const created = await client.create({ request: 'a debian terminal' }, { wait: true });
      expect(created.ok).toBe(true);
      id = (created as { record: { id: string } }).record.id;
    }, 300_000);
    afterAll(() => daemon?.close(), 120_000);

    const env = (): NodeJS.ProcessEnv => ({
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: home,
      VIRTOS_HOME: home,
      TERM: 'xterm',
    });

    it('on a terminal: an interactive shell answers and its exit code is ours', async () => {
      // `script` runs the CLI on a new pseudo-terminal (-e: its exit code is the CLI's).
      const child = spawn(
        'script',
        ['-q', '-e', '-c', `${process.execPath} ${VIRTOS} env shell ${id}`, '/dev/null'],
        { env: env(), stdio: 'pipe' },
      );
      const out = collect(child);
      // The remote bash prints its prompt; then a command typed on the local terminal runs there.
      await out.until(/user@[^\s]*:~\$ /);
      child.stdin.write('echo "$((6 * 7))-$(id -u)-$(tty)"\r');
      await out.until(/\r42-1000-\/dev\/pts\/\d+\r+\n/);
      child.stdin.write('exit 7\r');
      expect(await out.exit).toBe(7);
    }, 120_000);

    it('without a terminal: a line shell, cd carries over, last exit code', async () => {
      const child = spawn(process.execPath, [VIRTOS, 'env', 'shell', id], {
        env: env(),
        stdio: 'pipe',
      });
      const out = collect(child);
      child.stdin.end('cd /tmp\npwd\nexit_code() { return 4; }; exit_code\n');
      expect(await out.exit).toBe(4);
      expect(out.text()).toContain('/tmp\n');
    }, 120_000);
  },
);
