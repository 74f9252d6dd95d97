/**
 * Helpers for integration tests with the real runtime: whether this machine can run them, the
 * traces an environment can leave on the host, and a daemon child process that can be killed.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { applyCrunCgroupRemedy, probeRuntime } from '@virtos/runtime';

const run = promisify(execFile);

/** The image layer cache shared by integration tests (layers are built once per machine). */
export const IMAGE_CACHE =
  process.env['VIRTOS_TEST_IMAGE_CACHE'] ?? '/var/cache/virtos-test/images';

/** Why the real-runtime tests cannot run here, or undefined when they can. */
export async function realRuntimeSkipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts, cgroups)';
  await applyCrunCgroupRemedy().catch(() => []);
  const crun = await probeRuntime('crun');
  const runc = await probeRuntime('runc');
  if (crun.status !== 'ok' && runc.status !== 'ok')
    return `no OCI runtime: ${crun.reason}; ${runc.reason}`;
  return undefined;
}

/** A fresh runtime state dir on /run (RAM). */
export function testStateDir(): string {
  return `/run/virtos-test-srv-${randomBytes(4).toString('hex')}`;
}

/** Everything of environment `id` still on the host: processes, mounts, netns, records. */
export async function tracesOf(id: string, stateDir: string): Promise<string[]> {
  const found: string[] = [];
  const container = `virtos-${id}`;
  const netns = `virtos-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(container) || line.includes(join(stateDir, 'prov', 'roots', id))) {
      found.push(`mount: ${line.split(' ')[4]}`);
    }
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(container))
        found.push(`process: ${pid}`);
    } catch {
      // exited meanwhile
    }
  }
  const { stdout } = await run('ip', ['netns', 'list']);
  if (stdout.split('\n').some((l) => l.split(' ')[0] === netns)) found.push(`netns: ${netns}`);
  if (existsSync(join(stateDir, 'prov', 'envs', `${id}.json`))) found.push('provisioner record');
  return found;
}

/** Mounts under the state dir (none may remain once every environment is gone). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(dir));
}

const here = dirname(fileURLToPath(import.meta.url));
/** The `virtos` entry point. */
export const VIRTOS_BIN = resolve(here, '../../cli/bin/virtos.js');

/** A daemon in a child process (so it can be killed with SIGKILL). */
export interface ChildDaemon {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
}

/** Starts `virtos --port 0 --no-open` (or another Node entry, `argv`) and resolves with its URL. */
export function startChildDaemon(
  env: Record<string, string>,
  timeoutMs = 60_000,
  argv: readonly string[] = [VIRTOS_BIN, '--port', '0', '--no-open'],
): Promise<ChildDaemon> {
  const child = spawn(process.execPath, [...argv], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`daemon did not start in ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /VirtOS is running at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ child, url: m[1]!, stderr: () => err });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code}: ${err}`));
    });
  });
}

/** SIGKILL and wait for the exit. */
export function killNine(c: ChildDaemon): Promise<void> {
  return new Promise((r) => {
    if (c.child.exitCode !== null || c.child.signalCode !== null) return r();
    c.child.once('exit', () => r());
    c.child.kill('SIGKILL');
  });
}

/** SIGTERM (graceful) and wait for the exit, SIGKILL after `ms`. */
export function stopGracefully(c: ChildDaemon, ms = 30_000): Promise<number | null> {
  return new Promise((r) => {
    if (c.child.exitCode !== null || c.child.signalCode !== null) return r(c.child.exitCode);
    const t = setTimeout(() => c.child.kill('SIGKILL'), ms);
    c.child.once('exit', (code) => {
      clearTimeout(t);
      r(code);
    });
    c.child.kill('SIGTERM');
  });
}
