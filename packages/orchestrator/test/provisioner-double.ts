/**
 * A Provisioner test double with the runtime package's shape, under the test's control: a
 * provisioning can be held at a gate until the test releases it, environments can vanish or stop,
 * traces can be planted (orphans, leftovers of a crashed daemon), and every call is recorded.
 */
import { throwIfAborted } from '@virtos/core';
import {
  RuntimeErrors,
  type DisplayEndpoint,
  type DriverContext,
  type EnvironmentState,
  type EnvironmentStatus,
  type ExecOutputSink,
  type ExecRequest,
  type ExecResult,
  type ExecStreamResult,
  type PtyRequest,
  type PtySession,
} from '@virtos/runtime';
import type { EnvironmentSpec } from '@virtos/spec';
import type {
  ProvisionProgress,
  ProvisionRequest,
  ProvisionedEnvironment,
  Provisioner,
  RuntimeChoice,
} from '../src/index.js';

interface Gate {
  promise: Promise<void>;
  release: () => void;
  fail: (e: Error) => void;
}

/** The double. */
export class ProvisionerDouble implements Provisioner {
  /** Environments with their observed state ('partial' = a trace without a running environment). */
  readonly envs = new Map<string, EnvironmentState | 'partial'>();
  readonly calls: string[] = [];
  /** When true, provision waits for `release(id)` (or `failProvision(id)`). */
  hold = false;
  /** Makes `provision` fail for these ids. */
  readonly failFor = new Set<string>();
  private readonly gates = new Map<string, Gate>();
  private readonly waiting = new Map<string, () => void>();

  chooseRuntime(spec: EnvironmentSpec): RuntimeChoice {
    if (spec.runtime === 'vm') {
      throw RuntimeErrors.create(
        'unavailable',
        `Cannot provision ${spec.name}: no vm runtime here.`,
        {
          subject: spec.name,
          hint: 'Use microvm or container.',
        },
      );
    }
    if (spec.runtime === 'microvm') {
      return {
        kind: 'oci.runsc/v1',
        reason: 'no usable KVM: gVisor is the strongest substitute',
        substitution: {
          kind: 'substitution',
          blocking: false,
          field: 'runtime',
          message: 'microvm runs under gVisor (runsc) on this host.',
          code: 'runtime.substituted',
        },
      };
    }
    return { kind: 'fake/v1', reason: 'test double' };
  }

  async provision(
    ctx: DriverContext,
    req: ProvisionRequest,
    onProgress?: (p: ProvisionProgress) => void,
  ): Promise<ProvisionedEnvironment> {
    this.calls.push(`provision:${req.id}`);
    if (this.envs.has(req.id) && this.envs.get(req.id) !== 'partial') {
      throw RuntimeErrors.create('already_exists', `Environment ${req.id} already exists.`);
    }
    this.envs.set(req.id, 'partial');
    onProgress?.({ phase: 'image', message: 'image ready', elapsedMs: 0 });
    try {
      if (this.hold) {
        let gate!: Gate;
        const promise = new Promise<void>((resolve, reject) => {
          gate = { promise: undefined as never, release: resolve, fail: reject };
        });
        gate.promise = promise;
        this.gates.set(req.id, gate);
        this.waiting.get(req.id)?.();
        const onAbort = () => gate.fail(new Error('aborted'));
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        try {
          await promise;
        } finally {
          ctx.signal.removeEventListener('abort', onAbort);
          this.gates.delete(req.id);
        }
      }
      throwIfAborted(ctx.signal, 'provision');
      if (this.failFor.has(req.id)) {
        throw RuntimeErrors.create('failed', `Injected failure for ${req.id}.`, {
          subject: req.id,
        });
      }
    } catch (e) {
      this.envs.delete(req.id);
      throw e;
    }
    this.envs.set(req.id, 'running');
    return {
      id: req.id,
      runtime: this.chooseRuntime(req.spec),
      status: { id: req.id, state: 'running', pid: 1 },
      ...(req.spec.display === 'desktop' && {
        display: {
          protocol: 'rfb',
          socketPath: `/run/vnc/${req.id}.sock`,
          width: 1280,
          height: 800,
        },
      }),
      startedAt: 0,
    };
  }

  /** Ids currently held at the gate. */
  get held(): string[] {
    return [...this.gates.keys()];
  }

  /** Lets a held provisioning finish. */
  release(id: string): void {
    this.gates.get(id)?.release();
  }

  /** Makes a held provisioning fail. */
  failProvision(id: string): void {
    this.gates.get(id)?.fail(RuntimeErrors.create('failed', `Injected failure for ${id}.`));
  }

  /** Resolves once `id` is held at the gate. */
  whenHeld(id: string): Promise<void> {
    if (this.gates.has(id)) return Promise.resolve();
    return new Promise((r) => this.waiting.set(id, r));
  }

  private observed(id: string): EnvironmentState {
    const s = this.envs.get(id);
    if (s === undefined)
      throw RuntimeErrors.create('not_found', `No environment ${id}.`, { subject: id });
    return s === 'partial' ? 'created' : s;
  }

  async suspend(_ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    this.calls.push(`suspend:${id}`);
    if (this.observed(id) !== 'running')
      throw RuntimeErrors.create('invalid_state', `Cannot pause ${id}.`);
    this.envs.set(id, 'paused');
    return { id, state: 'paused' };
  }

  async resume(_ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    this.calls.push(`resume:${id}`);
    if (this.observed(id) !== 'paused')
      throw RuntimeErrors.create('invalid_state', `Cannot resume ${id}.`);
    this.envs.set(id, 'running');
    return { id, state: 'running' };
  }

  async exec(_ctx: DriverContext, id: string, req: ExecRequest): Promise<ExecResult> {
    this.calls.push(`exec:${id}`);
    if (this.observed(id) !== 'running')
      throw RuntimeErrors.create('invalid_state', `Cannot exec in ${id}.`);
    return { exitCode: 0, stdout: req.args.join(' ') + '\n', stderr: '' };
  }

  async execStream(
    _ctx: DriverContext,
    id: string,
    req: ExecRequest,
    sink: ExecOutputSink,
  ): Promise<ExecStreamResult> {
    this.calls.push(`execStream:${id}`);
    if (this.observed(id) !== 'running')
      throw RuntimeErrors.create('invalid_state', `Cannot exec in ${id}.`);
    sink.onStdout?.(new TextEncoder().encode(req.args.join(' ') + '\n'));
    return { exitCode: 0, truncated: false };
  }

  async openPty(_ctx: DriverContext, id: string, _req: PtyRequest): Promise<PtySession> {
    this.calls.push(`openPty:${id}`);
    throw RuntimeErrors.create('invalid_request', `The test double has no terminal for ${id}.`);
  }

  async status(_ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    return { id, state: this.observed(id) };
  }

  async display(_ctx: DriverContext, id: string): Promise<DisplayEndpoint> {
    this.calls.push(`display:${id}`);
    this.observed(id);
    return { protocol: 'rfb', socketPath: `/run/vnc/${id}.sock`, width: 1280, height: 800 };
  }

  async teardown(_ctx: DriverContext, id: string): Promise<void> {
    this.calls.push(`teardown:${id}`);
    this.envs.delete(id);
  }

  async list(): Promise<readonly string[]> {
    return [...this.envs.keys()];
  }

  /** Test helpers: the environment disappears, or its processes end. */
  vanish(id: string): void {
    this.envs.delete(id);
  }
  stop(id: string): void {
    this.envs.set(id, 'stopped');
  }
  /** A trace left on the host (a crashed daemon's partial environment or an orphan). */
  plant(id: string, state: EnvironmentState | 'partial' = 'partial'): void {
    this.envs.set(id, state);
  }
}
