/**
 * Starts a real TigerVNC Xvnc for tests and the bench, on a Unix socket in a fresh temp dir, with
 * the flags of HOST-NOTES.md (no TCP, security None). Cleans up its process and dir on stop().
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running Xvnc. */
export interface TestXvnc {
  readonly dir: string;
  readonly socketPath: string;
  /** X display number, e.g. 3 for `:3`. */
  readonly display: number;
  /** RFB connections Xvnc accepted so far (from its log). */
  acceptedConnections(): number;
  /** Starts an X client (e.g. xterm) on this display as uid/gid 65534; it dies with stop(). */
  spawnClient(command: string, args: readonly string[]): ChildProcess;
  stop(): Promise<void>;
}

/** True when Xvnc is installed. */
export function hasXvnc(): boolean {
  return spawnSync('Xvnc', ['-version'], { stdio: 'ignore' }).error === undefined;
}

/** Starts Xvnc with the given geometry and waits until it listens. */
export async function startXvnc(geometry = '640x480'): Promise<TestXvnc> {
  const dir = mkdtempSync(join(tmpdir(), 'virtos-gw-xvnc-'));
  const socketPath = join(dir, 'vnc.sock');
  const proc = spawn(
    'Xvnc',
    [
      '-geometry',
      geometry,
      '-depth',
      '24',
      '-SecurityTypes',
      'None',
      '-rfbunixpath',
      socketPath,
      '-rfbunixmode',
      '0666',
      '-rfbport',
      '-1',
      '-nolisten',
      'tcp',
      '-displayfd',
      '3',
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString('utf8')));
  const children: ChildProcess[] = [];
  const display = await new Promise<number>((resolve, reject) => {
    let out = '';
    const fd3 = proc.stdio[3] as NodeJS.ReadableStream;
    fd3.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    proc.once('exit', (code) =>
      reject(new Error(`Xvnc exited (${code}) before it was ready:\n${log}`)),
    );
    proc.once('error', reject);
  });
  const stop = async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (proc.exitCode === null) {
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3_000);
      await gone;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    dir,
    socketPath,
    display,
    acceptedConnections: () => log.split('Connections: accepted').length - 1,
    spawnClient(command, args) {
      const c = spawn(command, [...args], {
        stdio: 'ignore',
        uid: 65534,
        gid: 65534,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', DISPLAY: `:${display}`, HOME: '/tmp' },
      });
      children.push(c);
      return c;
    },
    stop,
  };
}
