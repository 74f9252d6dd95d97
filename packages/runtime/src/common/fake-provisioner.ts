/**
 * An in-memory {@link Provisioner} over the {@link FakeDriver}, for fast unit tests of the
 * orchestrator and the daemon: no images, mounts or namespaces. Delays per phase run on the given
 * clock (a ManualClock lets a test step through a provisioning); failures can be injected per phase.
 */
import { systemClock, throwIfAborted, type Clock } from '@virtos/core';
import type { EnvironmentSpec } from '@virtos/spec';
import {
  assertEnvironmentId,
  type DisplayEndpoint,
  type DriverContext,
  type EnvironmentStatus,
  type ExecOutputSink,
  type ExecRequest,
  type ExecResult,
  type ExecStreamResult,
  type PtyRequest,
  type PtySession,
} from './driver.js';
import { RuntimeErrors } from './errors.js';
import { FakeDriver } from './fake-driver.js';
import type {
  ProvisionPhase,
  ProvisionProgress,
  ProvisionRequest,
  ProvisionedEnvironment,
  Provisioner,
  RuntimeChoice,
} from './provisioner.js';

/** Options of the {@link FakeProvisioner}. */
export interface FakeProvisionerOptions {
  readonly clock?: Clock;
  /** Milliseconds each phase takes (on `clock`); absent phases take no time. */
  readonly delaysMs?: Partial<Readonly<Record<ProvisionPhase, number>>>;
  /**
   * Makes `provision` fail at a phase (with `runtime.failed`), for every request or per request.
   * The environment is cleaned up as the real provisioner does.
   */
  readonly failAt?: ProvisionPhase | ((req: ProvisionRequest) => ProvisionPhase | undefined);
  /** Makes `teardown` fail this many times first (reconciler retry tests). Default 0. */
  readonly teardownFailures?: number;
}

const PHASES: readonly ProvisionPhase[] = [
  'image',
  'rootfs',
  'network',
  'create',
  'start',
  'display',
];

/** The in-memory provisioner (`fake/v1` runtime for every class except `vm`, which it refuses). */
export class FakeProvisioner implements Provisioner {
  /** The driver underneath, exposed so tests can make environments exit (`driver.stop`). */
  readonly driver = new FakeDriver();
  private readonly clock: Clock;
  private readonly started = new Map<string, number>();
  private teardownFailuresLeft: number;
  /** Every call made, in order (`provision:<id>`, `teardown:<id>`, ...), for assertions. */
  readonly calls: string[] = [];

  constructor(private readonly opts: FakeProvisionerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.teardownFailuresLeft = opts.teardownFailures ?? 0;
  }

  chooseRuntime(spec: EnvironmentSpec): RuntimeChoice {
    if (spec.runtime === 'vm') throw vmUnavailable(spec.name);
    return { kind: 'fake/v1', reason: `fake provisioner: ${spec.runtime} runs on fake/v1` };
  }

  async provision(
    ctx: DriverContext,
    req: ProvisionRequest,
    onProgress?: (p: ProvisionProgress) => void,
  ): Promise<ProvisionedEnvironment> {
    this.calls.push(`provision:${req.id}`);
    assertEnvironmentId(req.id);
    const runtime = this.chooseRuntime(req.spec);
    if (this.started.has(req.id)) {
      throw RuntimeErrors.create('already_exists', `Environment ${req.id} already exists.`, {
        subject: req.id,
        hint: 'Tear it down first, or use another id.',
      });
    }
    const t0 = this.clock.monotonic();
    const failAt =
      typeof this.opts.failAt === 'function' ? this.opts.failAt(req) : this.opts.failAt;
    const desktop = req.spec.display === 'desktop';
    try {
      for (const phase of PHASES) {
        if (phase === 'display' && !desktop) continue;
        throwIfAborted(ctx.signal, 'provision');
        onProgress?.({ phase, message: phase, elapsedMs: this.clock.monotonic() - t0 });
        await this.sleep(ctx.signal, this.opts.delaysMs?.[phase] ?? 0);
        if (failAt === phase) {
          throw RuntimeErrors.create('failed', `Injected failure at ${phase} for ${req.id}.`, {
            subject: req.id,
            hint: 'FakeProvisioner failAt option.',
          });
        }
        if (phase === 'create') {
          await this.driver.create(ctx, { id: req.id, spec: req.spec, rootfs: '/fake' });
        }
        if (phase === 'start') await this.driver.start(ctx, req.id);
      }
      const status = await this.driver.status(ctx, req.id);
      const display = desktop ? await this.driver.display(ctx, req.id) : undefined;
      const startedAt = this.clock.now();
      this.started.set(req.id, startedAt);
      return {
        id: req.id,
        runtime,
        status,
        ...(display && { display }),
        startedAt,
        provisionMs: this.clock.monotonic() - t0,
      };
    } catch (e) {
      await this.driver.delete({ signal: new AbortController().signal }, req.id);
      throw e;
    }
  }

  suspend(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    this.calls.push(`suspend:${id}`);
    return this.driver.pause(ctx, id);
  }

  resume(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    this.calls.push(`resume:${id}`);
    return this.driver.resume(ctx, id);
  }

  exec(ctx: DriverContext, id: string, req: ExecRequest): Promise<ExecResult> {
    return this.driver.exec(ctx, id, req);
  }

  execStream(
    ctx: DriverContext,
    id: string,
    req: ExecRequest,
    sink: ExecOutputSink,
  ): Promise<ExecStreamResult> {
    return this.driver.execStream(ctx, id, req, sink);
  }

  openPty(ctx: DriverContext, id: string, req: PtyRequest): Promise<PtySession> {
    return this.driver.openPty(ctx, id, req);
  }

  status(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    return this.driver.status(ctx, id);
  }

  display(ctx: DriverContext, id: string): Promise<DisplayEndpoint> {
    return this.driver.display(ctx, id);
  }

  async teardown(ctx: DriverContext, id: string): Promise<void> {
    this.calls.push(`teardown:${id}`);
    throwIfAborted(ctx.signal, 'teardown');
    if (this.teardownFailuresLeft > 0) {
      this.teardownFailuresLeft -= 1;
      throw RuntimeErrors.create('failed', `Injected teardown failure for ${id}.`, {
        subject: id,
        hint: 'FakeProvisioner teardownFailures option; retry.',
      });
    }
    await this.driver.delete(ctx, id);
    this.started.delete(id);
  }

  list(ctx: DriverContext): Promise<readonly string[]> {
    return this.driver.list(ctx);
  }

  private sleep(signal: AbortSignal, ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        timer.dispose();
        try {
          throwIfAborted(signal, 'provision');
        } catch (e) {
          reject(e);
        }
      };
      const timer = this.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** The coded refusal of the `vm` class (shared with the real provisioner). */
export function vmUnavailable(subject: string): Error {
  return RuntimeErrors.create(
    'unavailable',
    `Cannot provision ${subject}: the vm runtime class needs a QEMU/KVM driver, which this host does not have.`,
    {
      subject,
      hint: 'QEMU/KVM driver not available on this host; KVM is nested PVM (see `virtos doctor`). Use runtime "microvm" (gVisor) or "container".',
    },
  );
}
