/**
 * An in-memory driver for fast unit tests of callers (orchestrator) and for the conformance suite's
 * own unit run. It follows the same state table as the real drivers. It "runs" a tiny subset of
 * shell scripts (the last argument of the process): `exit <n>` ends at once with n; anything else
 * runs until stopped. Exec understands `echo <text>` and `exit <n>`.
 */
import { throwIfAborted } from '@virtos/core';
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
  type ExecRequest,
  type ExecResult,
  type ExitStatus,
  type PauseCapability,
  type RuntimeDriver,
} from './driver.js';
import { RuntimeErrors } from './errors.js';

interface FakeEnv {
  state: EnvironmentState;
  exitCode?: number;
  script: string;
  display: boolean;
  waiters: ((s: ExitStatus) => void)[];
}

/** The fake driver (`fake/v1`). */
export class FakeDriver
  implements RuntimeDriver, PauseCapability, ExecCapability, DisplayCapability
{
  readonly kind = DRIVER_KINDS.fake;
  readonly capabilities: ReadonlySet<DriverCapability> = new Set<DriverCapability>([
    'pause',
    'exec',
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
