/**
 * The exec port: how the package runs host tools. Builders and the store take it as a parameter so
 * unit tests can replace it with a fake that records command lines.
 */
import { spawn } from 'node:child_process';
import { CoreErrors } from '@virtos/core';

/** Options of one command run. */
export interface ExecOptions {
  readonly signal?: AbortSignal;
  /** Extra environment variables (added to a minimal PATH/LANG environment). */
  readonly env?: Readonly<Record<string, string>>;
  /** Called for every line of stdout and stderr as it arrives. */
  readonly onLine?: (line: string) => void;
  readonly cwd?: string;
}

/** What a finished command gave back. Output is kept up to {@link MAX_CAPTURE} characters each. */
export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `argv[0]` with the rest as arguments (no shell); never rejects on a non-zero exit. */
export type Exec = (argv: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

/** Most characters of stdout/stderr kept per command; the tail is kept when longer. */
export const MAX_CAPTURE = 4 * 1024 * 1024;

/** Time a cancelled command gets between SIGTERM and SIGKILL, ms. */
export const KILL_GRACE_MS = 5000;

const BASE_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
};

/**
 * The real exec: spawns without a shell, in its own process group so that cancelling kills the whole
 * tree (mmdebstrap forks apt, dpkg and maintainer scripts). A missing binary resolves with code 127.
 */
export const nodeExec: Exec = (argv, opts = {}) =>
  new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (cmd === undefined) throw CoreErrors.create('invalid_argument', 'Empty command line.');
    if (opts.signal?.aborted) {
      reject(CoreErrors.create('cancelled', `${cmd} was cancelled.`));
      return;
    }
    const child = spawn(cmd, args, {
      env: { ...BASE_ENV, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(opts.cwd !== undefined && { cwd: opts.cwd }),
    });
    let stdout = '';
    let stderr = '';
    const feed = (which: 'out' | 'err') => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        if (which === 'out') stdout = (stdout + text).slice(-MAX_CAPTURE);
        else stderr = (stderr + text).slice(-MAX_CAPTURE);
        if (!opts.onLine) return;
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) opts.onLine(l);
      };
    };
    child.stdout.on('data', feed('out'));
    child.stderr.on('data', feed('err'));
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        // Negative pid: the whole process group started above (apt, dpkg, maintainer scripts).
        process.kill(-(child.pid ?? 0), sig);
      } catch {
        /* already gone */
      }
    };
    const onAbort = () => {
      aborted = true;
      killGroup('SIGTERM');
      // Whatever ignores SIGTERM gets SIGKILL after the grace period.
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e: NodeJS.ErrnoException) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (e.code === 'ENOENT') resolve({ code: 127, stdout, stderr: `${cmd}: not found` });
      else reject(e);
    });
    child.on('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (aborted) reject(CoreErrors.create('cancelled', `${cmd} was cancelled.`));
      else resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr });
    });
  });
