/**
 * Interactive and streamed exec for the `oci` driver.
 *
 * PTY: `<runtime> exec --tty` makes the runtime allocate the pseudo-terminal INSIDE the environment
 * (its own devpts), so the program gets a session, job control and a terminal the sandbox owns; the
 * host never hands a host terminal to the environment. The runtime itself runs on a host pty made by
 * `node-pty` and relays bytes between the two. crun 1.8 does not pass a window-size change of its
 * own terminal on to the inner one, so a resize is applied inside: one more exec under the same
 * policy runs `stty -F <inner pts> cols C rows R` (TIOCSWINSZ; the kernel then signals SIGWINCH to
 * the foreground group). runsc (no `--tty` flag; `terminal` in the process file) emulates the
 * terminal in its sentry on top of the host pty, so resizing the host pty is all it needs.
 *
 * Streamed: the same exec without a terminal, stdout and stderr read as they come.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as nodePty from 'node-pty';
import { Emitter, throwIfAborted } from '@virtos/core';
import { DESKTOP_USER, type OciConfig } from '@virtos/sandbox';
import type {
  ExecOutputSink,
  ExecRequest,
  ExecStreamResult,
  ExitStatus,
  PtyRequest,
  PtySession,
} from '../../common/driver.js';
import { RuntimeErrors } from '../../common/errors.js';
import type { OciCli } from './oci-cli.js';

/** The process section of an OCI config. */
type OciProcess = OciConfig['process'];

/** Output cap of a streamed exec, per stream (bytes). */
export const EXEC_STREAM_MAX_OUTPUT = 1024 * 1024;
/** Largest terminal dimension accepted (columns or rows). */
export const PTY_MAX_SIZE = 1000;
/** TERM given to programs on a pseudo-terminal (xterm.js and most terminals speak it). */
export const PTY_TERM = 'xterm-256color';

/**
 * The login shell started when a PTY request names no program: bash when the image has it, else the
 * POSIX sh every image has. `exec` keeps the shell's exit code as the session's.
 */
export const LOGIN_SHELL_ARGS: readonly string[] = [
  '/bin/sh',
  '-c',
  'if [ -x /bin/bash ]; then exec /bin/bash -l; fi; exec /bin/sh -l',
];

/** What an exec needs of the driver's environment. */
export interface OciExecTarget {
  readonly cli: OciCli;
  /** The container name (`virtos-<id>`). */
  readonly container: string;
  /** The bundle directory (process files are written here, root-only). */
  readonly bundle: string;
  /** The first process of the environment (its policy is reused). */
  readonly base: OciProcess;
}

/**
 * The process of an exec: the first process's policy (capabilities, rlimits, noNewPrivileges; the
 * runtime applies the container's seccomp filter, namespaces and cgroup to every exec) with the
 * request's program, user and environment.
 */
export function execProcess(
  base: OciProcess,
  req: Pick<ExecRequest, 'args' | 'env' | 'user'>,
  terminal = false,
): OciProcess {
  const user = req.user ?? base.user;
  return {
    ...base,
    terminal,
    user,
    args: [...req.args],
    env: [...base.env, ...Object.entries(req.env ?? {}).map(([k, v]) => `${k}=${v}`)],
    cwd: user.uid === 0 ? '/' : DESKTOP_USER.home,
    // SECURITY: root inside gets no ambient capabilities (the bounding set still holds only grants).
    capabilities: user.uid === 0 ? { ...base.capabilities, ambient: [] } : base.capabilities,
  };
}

async function writeProcessFile(bundle: string, proc: OciProcess): Promise<string> {
  const file = join(bundle, `exec-${randomBytes(6).toString('hex')}.json`);
  // SECURITY: the bundle directory is root-only; the file holds no secret (program and policy).
  await writeFile(file, JSON.stringify(proc), { mode: 0o600 });
  return file;
}

function checkSize(cols: number, rows: number, subject: string): void {
  const ok = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= PTY_MAX_SIZE;
  if (!ok(cols) || !ok(rows)) {
    throw RuntimeErrors.create('invalid_request', `Invalid terminal size ${cols}x${rows}.`, {
      subject,
      hint: `Columns and rows are integers from 1 to ${PTY_MAX_SIZE}.`,
    });
  }
}

/**
 * Runs a command and delivers its output as it comes; at most {@link EXEC_STREAM_MAX_OUTPUT} bytes
 * per stream reach the sink (the rest is read and dropped so the command never blocks on a pipe).
 */
export async function execOciStream(
  signal: AbortSignal,
  target: OciExecTarget,
  req: ExecRequest,
  sink: ExecOutputSink,
): Promise<ExecStreamResult> {
  throwIfAborted(signal, 'exec');
  const file = await writeProcessFile(target.bundle, execProcess(target.base, req));
  try {
    const child = target.cli.spawn(['exec', '--process', file, target.container]);
    let truncated = false;
    const pipe = (
      stream: NodeJS.ReadableStream | null,
      deliver: ((c: Uint8Array) => void) | undefined,
    ): void => {
      let size = 0;
      stream?.on('data', (c: Buffer) => {
        if (size >= EXEC_STREAM_MAX_OUTPUT) {
          truncated = true;
          return;
        }
        const part = c.subarray(0, EXEC_STREAM_MAX_OUTPUT - size);
        if (part.length < c.length) truncated = true;
        size += part.length;
        deliver?.(part);
      });
    };
    pipe(child.stdout, sink.onStdout?.bind(sink));
    pipe(child.stderr, sink.onStderr?.bind(sink));
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const exitCode = await new Promise<number>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (c, sig) => resolve(c ?? 128 + (sig === 'SIGKILL' ? 9 : 15)));
      });
      throwIfAborted(signal, 'exec');
      return { exitCode, truncated };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw RuntimeErrors.create(
          'unavailable',
          `${target.cli.options.runtime} is not installed.`,
          {
            subject: target.cli.options.binary,
            hint: `Install it: apt-get install ${target.cli.options.runtime}`,
          },
        );
      }
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  } finally {
    await rm(file, { force: true });
  }
}

/** The inner terminal's path (`/dev/pts/N` inside the environment) of the runtime's exec child. */
function innerPts(runtimePid: number): string | undefined {
  try {
    for (const tid of readdirSync(`/proc/${runtimePid}/task`)) {
      const kids = readFileSync(`/proc/${runtimePid}/task/${tid}/children`, 'utf8').trim();
      for (const kid of kids.split(/\s+/)) {
        if (!/^\d+$/.test(kid)) continue;
        // SECURITY: readlink only reads the name of the child's terminal (a string that is used
        // inside the sandbox, never opened on the host); it is checked to be a pts name.
        const link = readlinkSync(`/proc/${kid}/fd/0`);
        if (/^\/dev\/pts\/\d+$/.test(link)) return link;
      }
    }
  } catch {
    // The child is not there (yet, or any more).
  }
  return undefined;
}

/** Starts a program on a new pseudo-terminal inside the environment. */
export async function openOciPty(
  signal: AbortSignal,
  target: OciExecTarget,
  req: PtyRequest,
): Promise<PtySession> {
  throwIfAborted(signal, 'pty');
  checkSize(req.cols, req.rows, target.container);
  const proc = {
    ...execProcess(
      target.base,
      {
        args: req.args ?? LOGIN_SHELL_ARGS,
        env: { TERM: PTY_TERM, ...req.env },
        ...(req.user && { user: req.user }),
      },
      true,
    ),
    consoleSize: { width: req.cols, height: req.rows },
  };
  const file = await writeProcessFile(target.bundle, proc);
  const runsc = target.cli.options.runtime === 'runsc';
  let term: nodePty.IPty;
  try {
    // SECURITY: the runtime runs with only PATH in its environment (no daemon secret leaks in), on a
    // host pty that only the daemon holds; the program runs on the runtime's inner pty.
    term = nodePty.spawn(
      target.cli.options.binary,
      [
        ...target.cli.globalArgs(),
        'exec',
        // runsc has no --tty flag; it reads `terminal` from the process file.
        ...(runsc ? [] : ['--tty']),
        '--process',
        file,
        target.container,
      ],
      {
        name: PTY_TERM,
        cols: req.cols,
        rows: req.rows,
        cwd: '/',
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
        encoding: null,
      },
    );
  } catch (e) {
    await rm(file, { force: true });
    throw RuntimeErrors.create(
      'failed',
      `Cannot start a terminal in ${target.container}: ${String(e)}`,
      {
        subject: target.container,
        hint: 'Run `virtos doctor` to check the runtime on this host.',
      },
    );
  }
  const data = new Emitter<Uint8Array>();
  term.onData((d) => data.fire(typeof d === 'string' ? Buffer.from(d, 'utf8') : d));
  let exited = false;
  const exit = new Promise<ExitStatus>((resolve) => {
    term.onExit(({ exitCode, signal: sig }) => {
      exited = true;
      void rm(file, { force: true });
      resolve({ exitCode: sig ? 128 + sig : exitCode });
      // Output still buffered in the emitter's listeners is delivered before they go.
      setImmediate(() => data.dispose());
    });
  });

  let pts: string | undefined;
  let applied = { cols: req.cols, rows: req.rows };
  let queue: Promise<void> = Promise.resolve();
  const applyInside = async (cols: number, rows: number): Promise<void> => {
    // runsc backs the sandbox's terminal with the host pty itself: resizing that one is enough.
    if (runsc || exited || (cols === applied.cols && rows === applied.rows)) return;
    // The runtime's child appears a few ms after the spawn; a resize right away waits for it.
    for (let i = 0; i < 100 && pts === undefined && !exited; i++) {
      pts = innerPts(term.pid);
      if (pts === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    if (pts === undefined) return;
    const resizeFile = await writeProcessFile(
      target.bundle,
      execProcess(target.base, {
        args: ['stty', '-F', pts, 'cols', String(cols), 'rows', String(rows)],
        ...(req.user && { user: req.user }),
      }),
    );
    try {
      // The user owns its pts, so stty needs no privilege; it runs under the same policy.
      await target.cli.run(AbortSignal.timeout(10_000), [
        'exec',
        '--process',
        resizeFile,
        target.container,
      ]);
      applied = { cols, rows };
    } finally {
      await rm(resizeFile, { force: true });
    }
  };

  return {
    onData: data.event,
    exit,
    write(input) {
      if (!exited) term.write(typeof input === 'string' ? input : Buffer.from(input));
    },
    resize(cols, rows) {
      checkSize(cols, rows, target.container);
      if (!exited) term.resize(cols, rows);
      // Resizes run one after another; each waits for the previous, so the last one wins.
      queue = queue.then(() => applyInside(cols, rows)).catch(() => undefined);
      return queue;
    },
    pause() {
      if (!exited) term.pause();
    },
    resume() {
      if (!exited) term.resume();
    },
    kill() {
      if (!exited) term.kill('SIGKILL');
    },
  };
}
