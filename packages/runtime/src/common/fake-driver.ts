/**
 * An in-memory driver for fast unit tests of callers (orchestrator) and for the conformance suite's
 * own unit run. It follows the same state table as the real drivers. It "runs" a tiny subset of
 * shell scripts (the last argument of the process): `exit <n>` ends at once with n; anything else
 * runs until stopped. Exec understands `echo <text>` and `exit <n>`; a streamed exec runs a `; `-list
 * of `echo <text>`, `touch <file>`, `exit <n>` and {@link waitForFileScript} (files are per
 * environment, in memory). A PTY runs a line shell knowing `echo <text>`, `stty size`, `exit <n>`.
 */
import { Emitter, throwIfAborted } from '@virtos/core';
import {
  DRIVER_KINDS,
  assertEnvironmentId,
  assertOperation,
  type CreateRequest,
  type DisplayCapability,
  type DisplayEndpoint,
  type DriverCapability,
  type DriverContext,
  type EnvironmentState,
  type EnvironmentStatus,
  type ExecCapability,
  type ExecOutputSink,
  type ExecRequest,
  type ExecResult,
  type ExecStreamCapability,
  type ExecStreamResult,
  type ExitStatus,
  type PauseCapability,
  type PtyCapability,
  type PtyRequest,
  type PtySession,
  type RuntimeDriver,
} from './driver.js';
import { RuntimeErrors } from './errors.js';

interface FakeEnv {
  state: EnvironmentState;
  exitCode?: number;
  script: string;
  display: boolean;
  waiters: ((s: ExitStatus) => void)[];
  /** Files made by `touch` in streamed execs, and who waits for one. */
  files: Set<string>;
  fileWaiters: Map<string, (() => void)[]>;
}

/** A POSIX sh snippet that waits until `file` exists (the fake driver recognises it). */
export function waitForFileScript(file: string): string {
  return `until [ -e ${file} ]; do sleep 0.02; done`;
}
const WAIT_RE = /^until \[ -e (\S+) \]; do sleep 0\.02; done$/;

/** The fake driver (`fake/v1`). */
export class FakeDriver
  implements
    RuntimeDriver,
    PauseCapability,
    ExecCapability,
    ExecStreamCapability,
    PtyCapability,
    DisplayCapability
{
  readonly kind = DRIVER_KINDS.fake;
  readonly capabilities: ReadonlySet<DriverCapability> = new Set<DriverCapability>([
    'pause',
    'exec',
    'exec-stream',
    'pty',
    'display',
  ]);
  private readonly envs = new Map<string, FakeEnv>();
  private nextPid = 1000;

  private get(id: string): FakeEnv {
    const env = this.envs.get(id);
    if (!env) {
      throw RuntimeErrors.create('not_found', `No environment ${id} in the fake driver.`, {
        subject: id,
      });
    }
    return env;
  }

  private view(id: string, env: FakeEnv): EnvironmentStatus {
    return {
      id,
      state: env.state,
      ...(env.state === 'running' || env.state === 'paused' ? { pid: this.nextPid } : {}),
      ...(env.exitCode !== undefined ? { exitCode: env.exitCode } : {}),
    };
  }

  private exit(env: FakeEnv, code: number): void {
    env.state = 'stopped';
    env.exitCode = code;
    for (const w of env.waiters.splice(0)) w({ exitCode: code });
  }

  async create(ctx: DriverContext, req: CreateRequest): Promise<EnvironmentStatus> {
    throwIfAborted(ctx.signal, 'create');
    assertEnvironmentId(req.id);
    if (this.envs.has(req.id)) {
      throw RuntimeErrors.create('already_exists', `Environment ${req.id} already exists.`, {
        subject: req.id,
      });
    }
    const env: FakeEnv = {
      state: 'created',
      script: req.process?.args.at(-1) ?? 'sleep infinity',
      display: req.spec.display === 'desktop',
      waiters: [],
      files: new Set(),
      fileWaiters: new Map(),
    };
    this.envs.set(req.id, env);
    return this.view(req.id, env);
  }

  async start(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    throwIfAborted(ctx.signal, 'start');
    const env = this.get(id);
    assertOperation(id, env.state, 'start');
    env.state = 'running';
    this.nextPid++;
    const m = /^exit (\d+)$/.exec(env.script.trim());
    if (m) this.exit(env, Number(m[1]));
    return this.view(id, env);
  }

  async pause(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    throwIfAborted(ctx.signal, 'pause');
    const env = this.get(id);
    assertOperation(id, env.state, 'pause');
    env.state = 'paused';
    return this.view(id, env);
  }

  async resume(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    throwIfAborted(ctx.signal, 'resume');
    const env = this.get(id);
    assertOperation(id, env.state, 'resume');
    env.state = 'running';
    return this.view(id, env);
  }

  async stop(ctx: DriverContext, id: string): Promise<ExitStatus> {
    throwIfAborted(ctx.signal, 'stop');
    const env = this.get(id);
    if (env.state !== 'stopped') this.exit(env, env.state === 'created' ? 0 : 143);
    return { exitCode: env.exitCode ?? 0 };
  }

  async delete(ctx: DriverContext, id: string): Promise<void> {
    throwIfAborted(ctx.signal, 'delete');
    const env = this.envs.get(id);
    if (!env) return;
    if (env.state !== 'stopped') this.exit(env, 137);
    this.envs.delete(id);
  }

  async status(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    throwIfAborted(ctx.signal, 'status');
    return this.view(id, this.get(id));
  }

  wait(ctx: DriverContext, id: string): Promise<ExitStatus> {
    return new Promise((resolve, reject) => {
      try {
        throwIfAborted(ctx.signal, 'wait');
        const env = this.get(id);
        if (env.state === 'stopped') return resolve({ exitCode: env.exitCode ?? 0 });
        const onAbort = (): void => {
          env.waiters = env.waiters.filter((w) => w !== done);
          try {
            throwIfAborted(ctx.signal, 'wait');
          } catch (e) {
            reject(e);
          }
        };
        const done = (s: ExitStatus): void => {
          ctx.signal.removeEventListener('abort', onAbort);
          resolve(s);
        };
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        env.waiters.push(done);
      } catch (e) {
        reject(e);
      }
    });
  }

  async list(ctx: DriverContext): Promise<readonly string[]> {
    throwIfAborted(ctx.signal, 'list');
    return [...this.envs.keys()];
  }

  async exec(ctx: DriverContext, id: string, req: ExecRequest): Promise<ExecResult> {
    throwIfAborted(ctx.signal, 'exec');
    const env = this.get(id);
    assertOperation(id, env.state, 'exec');
    const script = (req.args.at(-1) ?? '').trim();
    const echo = /^echo (.*)$/.exec(script);
    if (echo) return { exitCode: 0, stdout: `${echo[1]}\n`, stderr: '' };
    const exit = /^exit (\d+)$/.exec(script);
    return { exitCode: exit ? Number(exit[1]) : 0, stdout: '', stderr: '' };
  }

  async execStream(
    ctx: DriverContext,
    id: string,
    req: ExecRequest,
    sink: ExecOutputSink,
  ): Promise<ExecStreamResult> {
    throwIfAborted(ctx.signal, 'exec');
    const env = this.get(id);
    assertOperation(id, env.state, 'exec');
    const script = (req.args.at(-1) ?? '').trim();
    // Split on '; ' outside the wait loop (which contains '; ' itself).
    const parts = script.split(/; (?=echo |touch |exit |until )/);
    for (const part of parts) {
      throwIfAborted(ctx.signal, 'exec');
      const echo = /^echo (.*)$/.exec(part);
      const touch = /^touch (\S+)$/.exec(part);
      const exit = /^exit (\d+)$/.exec(part);
      const wait = WAIT_RE.exec(part);
      if (echo) sink.onStdout?.(new TextEncoder().encode(`${echo[1]}\n`));
      else if (touch?.[1] !== undefined) {
        env.files.add(touch[1]);
        for (const w of env.fileWaiters.get(touch[1]) ?? []) w();
        env.fileWaiters.delete(touch[1]);
      } else if (exit) return { exitCode: Number(exit[1]), truncated: false };
      else if (wait?.[1] !== undefined && !env.files.has(wait[1])) {
        const file = wait[1];
        await new Promise<void>((resolve, reject) => {
          const list = env.fileWaiters.get(file) ?? [];
          list.push(resolve);
          env.fileWaiters.set(file, list);
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
        });
      }
    }
    return { exitCode: 0, truncated: false };
  }

  async openPty(ctx: DriverContext, id: string, req: PtyRequest): Promise<PtySession> {
    throwIfAborted(ctx.signal, 'pty');
    const env = this.get(id);
    assertOperation(id, env.state, 'exec');
    const data = new Emitter<Uint8Array>();
    const enc = new TextEncoder();
    let size = { cols: req.cols, rows: req.rows };
    let line = '';
    let done = false;
    let finish: (s: ExitStatus) => void = () => undefined;
    const exit = new Promise<ExitStatus>((r) => (finish = r));
    const end = (code: number): void => {
      if (done) return;
      done = true;
      finish({ exitCode: code });
    };
    let paused = false;
    const held: string[] = [];
    const out = (text: string): void => {
      if (paused) held.push(text);
      else queueMicrotask(() => data.fire(enc.encode(text)));
    };
    out('$ ');
    return {
      onData: data.event,
      exit,
      write(input) {
        if (done) return;
        for (const ch of typeof input === 'string' ? input : new TextDecoder().decode(input)) {
          if (ch !== '\r' && ch !== '\n') {
            line += ch;
            out(ch);
            continue;
          }
          const cmd = line.trim();
          line = '';
          out('\r\n');
          const echo = /^echo (.*)$/.exec(cmd);
          const ex = /^exit (\d+)$/.exec(cmd);
          if (echo) out(`${echo[1]}\r\n`);
          else if (cmd === 'stty size') out(`${size.rows} ${size.cols}\r\n`);
          else if (ex) return end(Number(ex[1]));
          out('$ ');
        }
      },
      async resize(cols, rows) {
        size = { cols, rows };
      },
      pause() {
        paused = true;
      },
      resume() {
        paused = false;
        for (const text of held.splice(0)) out(text);
      },
      kill() {
        end(137);
      },
    };
  }

  async display(ctx: DriverContext, id: string): Promise<DisplayEndpoint> {
    throwIfAborted(ctx.signal, 'display');
    const env = this.get(id);
    assertOperation(id, env.state, 'display');
    if (!env.display) {
      throw RuntimeErrors.create('invalid_request', `Environment ${id} has no desktop display.`, {
        subject: id,
      });
    }
    return {
      protocol: 'rfb',
      socketPath: `/nonexistent/fake/${id}/vnc.sock`,
      width: 1280,
      height: 800,
    };
  }
}
