/**
 * The Orchestrator: the lifecycle of environments on top of a registry store, a scheduler and a
 * provisioner. Operations check the state table first; every state change is saved with an event
 * and kicks the scheduler; a level-based reconciler converges each record with what the provisioner
 * observes, at start(), periodically on the Clock, and after failed provisioner calls.
 */
import {
  CoreErrors,
  Emitter,
  isCancellation,
  newId,
  nullLogger,
  systemClock,
  throwIfAborted,
  toVirtosError,
  type Clock,
  type Disposable,
  type Event,
  type Logger,
} from '@virtos/core';
import { Composer, type ComposeResult } from '@virtos/composer';
import {
  RuntimeErrors,
  canAdopt,
  type DisplayEndpoint,
  type DriverContext,
  type ExecOutputSink,
  type ExecRequest,
  type ExecResult,
  type ExecStreamResult,
  type PtyRequest,
  type PtySession,
} from '@virtos/runtime';
import { finding, parseSpec, type EnvironmentSpec, type Finding } from '@virtos/spec';
import { OrchestratorErrors } from '../common/errors.js';
import {
  LIFECYCLE_STATES,
  TRANSITIONS,
  assertAllowed,
  holdsCapacity,
  isActive,
  type LifecycleState,
} from '../common/lifecycle.js';
import type { Provisioner } from '../common/provisioner-port.js';
import {
  PRIORITY_VALUES,
  Scheduler,
  type HostUsage,
  type ScheduleRequest,
} from '../common/scheduler.js';
import type { RegistryStore } from '../common/store.js';
import type { EnvironmentEvent, EnvironmentRecord, HostInfo } from '../common/types.js';
import { localHost } from './host.js';

/** Per-owner limits (host mode). Absent limits are unlimited. */
export interface OwnerQuota {
  /** Active (not terminated, not failed) environments. */
  readonly maxEnvironments?: number;
  /** Sum of `resources.cpus` over active environments. */
  readonly maxCpus?: number;
  /** Sum of `resources.memoryMiB` over active environments, MiB. */
  readonly maxMemoryMiB?: number;
}

/** Construction options of the {@link Orchestrator}. */
export interface OrchestratorOptions {
  readonly store: RegistryStore;
  readonly provisioner: Provisioner;
  /** For `compose`, `createFromText` and `modify({ request })`; default: a deterministic Composer. */
  readonly composer?: Composer;
  /** Hosts to place on; default: this machine ({@link localHost}). */
  readonly hosts?: readonly HostInfo[];
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly quotas?: { readonly perOwner?: OwnerQuota };
  /** Period of the full reconcile (lifetimes, vanished environments, orphans), ms. Default 15,000. */
  readonly reconcileIntervalMs?: number;
  /** Waiting this long raises a queued request's priority by one level, ms. Default 5 minutes. */
  readonly agingMs?: number;
  /** Provisionings interrupted by restarts before the record is marked failed. Default 3. */
  readonly maxAttempts?: number;
  /**
   * For a process that serves one command and exits (the CLI's embedded mode) while environments
   * run on under their runtime: it reads and changes records and tears down what a command asks
   * for (`terminate`), but takes nothing over. No reconcile (no adoption, so nothing that lives in
   * a daemon process, such as an egress proxy, is re-made in this short-lived one; no removal of
   * traces without a record, which may be another registry's; no vanish detection, TTL or idle
   * suspend) and no scheduling (`requested` ones wait for the daemon). Default false.
   */
  readonly oneShot?: boolean;
}

/** What `modify` did. */
export interface ModifyResult {
  readonly record: EnvironmentRecord;
  /** `live`: in effect now; `restart-needed`: saved as desired, the running one keeps the old; `none`: nothing changed. */
  readonly applied: 'live' | 'restart-needed' | 'none';
  readonly findings: Finding[];
}

/** Prometheus-style histogram of seconds from `provisioning` to `running`. Buckets are cumulative. */
export interface DurationHistogram {
  readonly count: number;
  /** Seconds. */
  readonly sum: number;
  /** `le` in seconds; the implicit +Inf bucket equals `count`. */
  readonly buckets: { readonly le: number; readonly count: number }[];
}

/** Snapshot for the daemon's /metrics. */
export interface OrchestratorMetrics {
  readonly byState: Record<LifecycleState, number>;
  /** Requests waiting for capacity after the last scheduling pass. */
  readonly queueLength: number;
  readonly provisioningSeconds: DurationHistogram;
}

/** Upper bounds of the provisioning histogram, seconds. */
export const PROVISIONING_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Fields of the spec that only the orchestrator reads: changing them never needs a restart. */
const LIVE_FIELDS: ReadonlySet<keyof EnvironmentSpec> = new Set([
  'name',
  'description',
  'lifetime',
  'priority',
]);

const SETTLED: ReadonlySet<LifecycleState> = new Set(['running', 'failed', 'terminated']);

type NewEvent = Omit<EnvironmentEvent, 'seq' | 'at' | 'envId'>;

interface Inflight {
  readonly abort: AbortController;
  /** Why it was aborted: a user's terminate, or the orchestrator shutting down. */
  why?: 'terminate' | 'shutdown';
  done: Promise<void>;
}

/** The orchestrator. One per daemon; see docs/orchestrator.md. */
export class Orchestrator implements Disposable {
  private readonly store: RegistryStore;
  private readonly provisioner: Provisioner;
  private composerInstance: Composer | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly scheduler: Scheduler;
  private readonly quota: OwnerQuota;
  private readonly intervalMs: number;
  private readonly maxAttempts: number;
  private readonly emitter = new Emitter<EnvironmentEvent>((e) =>
    this.log.error('event listener failed', { error: String(e) }),
  );
  /** Every record change as an event (transitions, progress, findings, errors). */
  readonly onDidChange: Event<EnvironmentEvent> = this.emitter.event;

  private readonly locks = new Map<string, Promise<void>>();
  private readonly seqs = new Map<string, number>();
  /**
   * Write-through cache of every record. The orchestrator is the store's only writer, so admission,
   * scheduling passes and list() read here instead of copying the whole store each time; the
   * reconciler still re-reads the store (the truth) and refreshes this.
   */
  private readonly cache = new Map<string, EnvironmentRecord>();
  private loading: Promise<void> | undefined;
  private readonly inflight = new Map<string, Inflight>();
  /**
   * Environments this orchestrator knows to be held by the provisioner: provisioned by it, or
   * adopted from an earlier daemon process (the reconciler adopts each live record once).
   */
  private readonly held = new Set<string>();
  private readonly tasks = new Set<Promise<unknown>>();
  private appendChain: Promise<void> = Promise.resolve();
  private timer: Disposable | undefined;
  private pumping = false;
  private pumpAgain = false;
  private reconcilingAll = false;
  private started = false;
  private disposed = false;
  /** See {@link OrchestratorOptions.oneShot}. */
  private readonly oneShot: boolean;
  private queueLength = 0;
  private readonly histogram = {
    count: 0,
    sum: 0,
    counts: PROVISIONING_BUCKETS_S.map(() => 0),
  };

  constructor(opts: OrchestratorOptions) {
    this.store = opts.store;
    this.provisioner = opts.provisioner;
    this.composerInstance = opts.composer;
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? nullLogger).child({ component: 'orchestrator' });
    const hosts = opts.hosts?.length ? opts.hosts : [localHost()];
    this.scheduler = new Scheduler(
      hosts,
      opts.agingMs === undefined ? {} : { agingMs: opts.agingMs },
    );
    this.quota = opts.quotas?.perOwner ?? {};
    this.intervalMs = Math.max(10, opts.reconcileIntervalMs ?? 15_000);
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
    this.oneShot = opts.oneShot === true;
  }

  /** The hosts environments are placed on. */
  get hosts(): readonly HostInfo[] {
    return this.scheduler.hostList;
  }

  /**
   * Reconciles every record with the provisioner's truth (a daemon killed mid-provisioning leaves
   * no orphan and no stuck record), removes traces without a record, starts the scheduler, then
   * repeats every `reconcileIntervalMs` on the Clock.
   */
  async start(): Promise<void> {
    this.assertOpen();
    if (this.started) return;
    this.started = true;
    await this.loaded();
    // One-shot: the daemon (the next one to start) reconciles and schedules.
    if (this.oneShot) return;
    await this.reconcileAll();
    this.arm();
  }

  /** Composes a spec from a request (or edits `base`); never throws on any input. */
  compose(request: string, base?: EnvironmentSpec): ComposeResult {
    return this.composer.compose(request, base ? { base } : {});
  }

  /**
   * Creates an environment from a spec: checks the spec, the owner's quota, that some host could
   * ever run it and which runtime this host uses for its class (its substitution finding is kept),
   * saves it as `requested` and queues it. With `wait`, resolves when it is running, failed or
   * terminated; aborting `signal` stops only the waiting (the environment carries on).
   */
  async create(
    input: { spec: EnvironmentSpec; owner: string; name?: string; findings?: readonly Finding[] },
    opts: { wait?: boolean; signal?: AbortSignal } = {},
  ): Promise<EnvironmentRecord> {
    this.assertOpen();
    throwIfAborted(opts.signal, 'create');
    const parsed = parseSpec(input.spec);
    if (!parsed.ok) {
      throw OrchestratorErrors.create('invalid_spec', parsed.error.message, {
        cause: parsed.error,
        ...(parsed.error.details !== undefined && { details: parsed.error.details }),
        hint: parsed.error.hint ?? 'See docs/environment-spec.md.',
      });
    }
    const owner = input.owner.trim();
    if (!owner) {
      throw OrchestratorErrors.create(
        'invalid_spec',
        'Cannot create an environment without an owner.',
        {
          hint: 'Pass the user the environment belongs to.',
        },
      );
    }
    let spec = parsed.value;
    const id = newId('env');
    const never = this.scheduler.neverFits(toScheduleRequest(id, spec, 0));
    if (never) {
      throw OrchestratorErrors.create(
        'unschedulable',
        `Cannot create env ${spec.name}: ${never}.`,
        {
          subject: spec.name,
          hint: 'Ask for fewer resources, or another runtime class.',
        },
      );
    }
    // The runtime this host uses for the class; throws the runtime's coded error (e.g. no vm).
    const choice = this.provisioner.chooseRuntime(spec);
    const findings: Finding[] = [...(input.findings ?? [])];
    if (choice.substitution) findings.push(choice.substitution);

    const record = await this.withLock('#admission', async () => {
      const all = await this.all();
      this.checkQuota(owner, all, spec, undefined, spec.name);
      const taken = new Set(
        all.filter((r) => r.owner === owner && isActive(r.state)).map((r) => r.name),
      );
      let name = input.name ?? spec.name;
      if (taken.has(name)) {
        if (input.name !== undefined) {
          throw OrchestratorErrors.create(
            'name_taken',
            `Cannot create env ${name}: ${owner} already has an active environment with that name.`,
            {
              subject: name,
              hint: 'Choose another name, or terminate the other environment first.',
            },
          );
        }
        const stem = name.slice(0, 59);
        let n = 2;
        while (taken.has(`${stem}-${n}`)) n++;
        name = `${stem}-${n}`;
        findings.push(
          finding(
            'assumption',
            'name',
            `The name ${spec.name} is in use: this environment is called ${name}.`,
            {
              code: 'name.suffixed',
            },
          ),
        );
      }
      if (name !== spec.name) spec = { ...spec, name };
      const now = this.clock.now();
      const rec: EnvironmentRecord = {
        id,
        name,
        owner,
        spec,
        state: 'requested',
        host: '',
        runtime: { kind: choice.kind, reason: choice.reason },
        findings,
        priority: PRIORITY_VALUES[spec.priority],
        createdAt: now,
        updatedAt: now,
        queuedAt: now,
        attempts: 0,
      };
      this.seqs.set(id, 0);
      await this.save(rec, [
        {
          type: 'created',
          to: 'requested',
          message: `requested by ${owner}`,
          data: { name, runtime: choice.kind },
        },
        ...findings.map<NewEvent>((f) => ({
          type: 'finding',
          message: f.message,
          data: { finding: f },
        })),
      ]);
      return rec;
    });
    this.kick();
    if (opts.wait) return this.waitSettled(record.id, opts.signal);
    return (await this.store.get(record.id)) ?? record;
  }

  /**
   * Composes the request and creates the environment when the result has no blocking finding; the
   * composer's findings are kept on the record. When it has one, no record is made (`record: null`).
   */
  async createFromText(
    input: { request: string; owner: string },
    opts: { wait?: boolean; signal?: AbortSignal } = {},
  ): Promise<{ record: EnvironmentRecord | null; compose: ComposeResult }> {
    const compose = this.compose(input.request);
    if (!compose.ok || !compose.spec) return { record: null, compose };
    const record = await this.create(
      { spec: compose.spec, owner: input.owner, findings: compose.findings },
      opts,
    );
    return { record, compose };
  }

  /**
   * Changes the desired spec, from a request (through the composer, editing the current spec) or a
   * whole spec. Lifetime, priority, name and description apply live; resources, network, apps and
   * the rest need a restart of a running or suspended environment, which is said as findings
   * (`modify.restart_needed`) kept on the record. A requested environment takes everything as is.
   */
  async modify(
    id: string,
    change: { request?: string; spec?: EnvironmentSpec },
  ): Promise<ModifyResult> {
    this.assertOpen();
    const result = await this.withLock(id, async (): Promise<ModifyResult> => {
      const rec = await this.load(id);
      assertAllowed(id, rec.state, 'modify');
      const findings: Finding[] = [];
      let next: EnvironmentSpec;
      if (change.spec !== undefined) {
        const parsed = parseSpec(change.spec);
        if (!parsed.ok) {
          throw OrchestratorErrors.create('invalid_spec', parsed.error.message, {
            subject: id,
            cause: parsed.error,
            hint: parsed.error.hint ?? 'See docs/environment-spec.md.',
          });
        }
        next = parsed.value;
      } else if (change.request !== undefined) {
        const composed = this.composer.compose(change.request, { base: rec.spec });
        if (!composed.ok || !composed.spec) {
          const blocking = composed.findings.filter((f) => f.blocking);
          throw OrchestratorErrors.create(
            'compose_failed',
            `Cannot modify env ${id}: ${blocking[0]?.message ?? 'the request did not compose'}`,
            {
              subject: id,
              details: { findings: composed.findings },
              hint: 'Rephrase the change, or answer the questions in the findings.',
            },
          );
        }
        next = composed.spec;
        findings.push(...composed.findings);
      } else {
        return { record: rec, applied: 'none', findings: [] };
      }
      const changed = (Object.keys({ ...rec.spec, ...next }) as (keyof EnvironmentSpec)[]).filter(
        (k) => JSON.stringify(rec.spec[k]) !== JSON.stringify(next[k]),
      );
      if (changed.length === 0) return { record: rec, applied: 'none', findings };
      if (changed.includes('resources') || changed.includes('runtime')) {
        const never = this.scheduler.neverFits(toScheduleRequest(id, next, 0));
        if (never) {
          throw OrchestratorErrors.create('unschedulable', `Cannot modify env ${id}: ${never}.`, {
            subject: id,
            hint: 'Ask for fewer resources.',
          });
        }
        if (changed.includes('runtime')) this.provisioner.chooseRuntime(next);
      }
      const all = await this.all();
      if (changed.includes('resources')) this.checkQuota(rec.owner, all, next, id, id);
      if (changed.includes('name')) {
        const clash = all.some(
          (r) => r.id !== id && r.owner === rec.owner && isActive(r.state) && r.name === next.name,
        );
        if (clash) {
          throw OrchestratorErrors.create(
            'name_taken',
            `Cannot rename env ${id} to ${next.name}: ${rec.owner} already has an active environment with that name.`,
            {
              subject: id,
              hint: 'Choose another name.',
            },
          );
        }
      }
      const restart = rec.state === 'requested' ? [] : changed.filter((k) => !LIVE_FIELDS.has(k));
      for (const field of restart) {
        findings.push(
          finding(
            'assumption',
            field,
            `The change of ${field} takes effect when env ${id} is provisioned again (terminate it and create it from its spec); until then it keeps the old ${field}.`,
            { code: 'modify.restart_needed' },
          ),
        );
      }
      const applied = restart.length ? 'restart-needed' : 'live';
      const kept = rec.findings.filter(
        (f) =>
          !(
            f.code === 'modify.restart_needed' && restart.includes(f.field as keyof EnvironmentSpec)
          ),
      );
      const updated: EnvironmentRecord = {
        ...rec,
        spec: next,
        name: next.name,
        priority: PRIORITY_VALUES[next.priority],
        findings: [...kept, ...findings.filter((f) => f.code === 'modify.restart_needed')],
      };
      const saved = await this.save(updated, [
        {
          type: 'modified',
          message: `changed ${changed.join(', ')} (${applied})`,
          data: { fields: changed, applied },
        },
      ]);
      return { record: saved, applied, findings };
    });
    if (result.applied !== 'none') {
      this.kick();
      await this.reconcile(id);
      return { ...result, record: await this.load(id) };
    }
    return result;
  }

  /** Freezes a running environment; it keeps its host capacity (its memory stays allocated). */
  suspend(id: string): Promise<EnvironmentRecord> {
    this.assertOpen();
    return this.guarded(id, () =>
      this.withLock(id, async () => {
        const rec = await this.load(id);
        assertAllowed(id, rec.state, 'suspend');
        await this.provisioner.suspend(this.ctx(), id);
        return this.transition(rec, 'suspended', 'suspended by request');
      }),
    );
  }

  /** Thaws a suspended environment and counts it as active now. */
  resume(id: string): Promise<EnvironmentRecord> {
    this.assertOpen();
    return this.guarded(id, () =>
      this.withLock(id, async () => {
        const rec = await this.load(id);
        assertAllowed(id, rec.state, 'resume');
        await this.provisioner.resume(this.ctx(), id);
        return this.transition(rec, 'running', 'resumed by request', {
          lastActiveAt: this.clock.now(),
        });
      }),
    );
  }

  /**
   * Ends an environment: aborts a provisioning in progress, removes every trace on the host, and
   * keeps the record as `terminated` (audit). When the teardown fails the record is still
   * terminated and the reconciler retries the teardown.
   */
  async terminate(id: string): Promise<EnvironmentRecord> {
    this.assertOpen();
    return this.terminateWith(id, 'terminated by request');
  }

  /** The record; `orchestrator.not_found` for an unknown id. */
  async get(id: string): Promise<EnvironmentRecord> {
    return this.load(id);
  }

  /** Records, oldest first, optionally of one owner and/or in one state. */
  async list(
    filter: { owner?: string; state?: LifecycleState } = {},
  ): Promise<EnvironmentRecord[]> {
    return (await this.all()).filter(
      (r) =>
        (filter.owner === undefined || r.owner === filter.owner) &&
        (filter.state === undefined || r.state === filter.state),
    );
  }

  /** The environment's history after `sinceSeq` (all by default). */
  async events(id: string, sinceSeq?: number): Promise<EnvironmentEvent[]> {
    await this.load(id);
    await this.appendChain;
    return this.store.events(id, sinceSeq);
  }

  /** Runs a command in a running environment (counts as activity). `signal` aborts the call. */
  async exec(id: string, req: ExecRequest, signal?: AbortSignal): Promise<ExecResult> {
    this.assertOpen();
    const rec = await this.load(id);
    assertAllowed(id, rec.state, 'exec');
    await this.touch(id);
    return this.guarded(id, () => this.provisioner.exec(this.ctx(signal), id, req));
  }

  /** Like {@link exec}, with the output delivered to `sink` as it comes. */
  async execStream(
    id: string,
    req: ExecRequest,
    sink: ExecOutputSink,
    signal?: AbortSignal,
  ): Promise<ExecStreamResult> {
    this.assertOpen();
    const rec = await this.load(id);
    assertAllowed(id, rec.state, 'exec');
    await this.touch(id);
    return this.guarded(id, () => this.provisioner.execStream(this.ctx(signal), id, req, sink));
  }

  /**
   * A login shell (or `req.args`) on a pseudo-terminal in a running environment (counts as
   * activity). The session outlives the call; the caller ends it when the environment leaves
   * `running` (the daemon's PTY bridge follows transitions).
   */
  async openPty(id: string, req: PtyRequest, signal?: AbortSignal): Promise<PtySession> {
    this.assertOpen();
    const rec = await this.load(id);
    assertAllowed(id, rec.state, 'exec');
    await this.touch(id);
    return this.guarded(id, () => this.provisioner.openPty(this.ctx(signal), id, req));
  }

  /** The desktop's VNC endpoint of a running environment (counts as activity). */
  async display(id: string): Promise<DisplayEndpoint> {
    this.assertOpen();
    const rec = await this.load(id);
    assertAllowed(id, rec.state, 'display');
    const endpoint = await this.guarded(id, () => this.provisioner.display(this.ctx(), id));
    await this.withLock(id, async () => {
      const cur = await this.store.get(id);
      if (!cur) return;
      await this.putQuiet({
        ...cur,
        display: { ...endpoint },
        lastActiveAt: this.clock.now(),
        updatedAt: this.clock.now(),
      });
    });
    return endpoint;
  }

  /** Marks the environment as used now (the gateway calls this while a stream is open). */
  async touch(id: string): Promise<void> {
    await this.withLock(id, async () => {
      const cur = await this.load(id);
      const now = this.clock.now();
      if (cur.lastActiveAt !== undefined && now - cur.lastActiveAt < 1000) return;
      await this.putQuiet({ ...cur, lastActiveAt: now });
    });
  }

  /**
   * Converges one record with the provisioner's truth (level-based: safe to repeat, takes only the
   * id). requested: schedule. provisioning left by an earlier process: tear down the partial
   * environment and queue it again (failed after `maxAttempts`). running/suspended: failed with
   * reason `vanished` when the provisioner has no running trace; lifetime (TTL, idle suspend).
   * terminated/failed: remove any trace left. No record: remove any trace.
   */
  async reconcile(id: string): Promise<void> {
    if (this.oneShot) return;
    const traces = new Set(await this.provisioner.list(this.ctx()));
    await this.reconcileOne(id, traces);
  }

  /** Counts for /metrics. */
  metrics(): OrchestratorMetrics {
    const byState = Object.fromEntries(LIFECYCLE_STATES.map((s) => [s, 0])) as Record<
      LifecycleState,
      number
    >;
    for (const r of this.cache.values()) byState[r.state] += 1;
    return {
      byState,
      queueLength: this.queueLength,
      provisioningSeconds: {
        count: this.histogram.count,
        sum: this.histogram.sum,
        buckets: PROVISIONING_BUCKETS_S.map((le, i) => ({
          le,
          count: this.histogram.counts[i] ?? 0,
        })),
      },
    };
  }

  /**
   * Resolves when no background work (scheduling, provisioning, reconciling) is left. For tests
   * and for a graceful shutdown.
   */
  async whenIdle(): Promise<void> {
    while (this.tasks.size > 0 || this.pumping) {
      await Promise.allSettled([...this.tasks]);
      await this.appendChain;
    }
    await this.appendChain;
  }

  /**
   * Graceful shutdown: stops the timers, aborts provisionings in progress (each is cleaned up and
   * queued again as `requested`, so the next start provisions it afresh) and waits for background
   * work. Running environments keep running; the next start() reconciles them.
   */
  async shutdown(): Promise<void> {
    if (this.disposed) return this.whenIdle();
    this.dispose();
    await this.whenIdle();
  }

  /** Stops timers and aborts provisionings in progress; see {@link shutdown} to wait for it. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.timer?.dispose();
    for (const entry of this.inflight.values()) {
      entry.why ??= 'shutdown';
      entry.abort.abort();
    }
    this.emitter.dispose();
  }

  // ---------------------------------------------------------------------------------------------
  // internals

  private get composer(): Composer {
    this.composerInstance ??= new Composer();
    return this.composerInstance;
  }

  private assertOpen(): void {
    if (this.disposed) {
      throw OrchestratorErrors.create('disposed', 'The orchestrator has been shut down.', {
        hint: 'Restart the daemon.',
      });
    }
  }

  private ctx(signal?: AbortSignal): DriverContext {
    return { signal: signal ?? new AbortController().signal };
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.tasks.add(p);
    void p.then(
      () => this.tasks.delete(p),
      () => this.tasks.delete(p),
    );
    return p;
  }

  /** Runs `fn` after every earlier holder of `key` has finished (a per-id mutex). */
  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.locks.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  /** Runs a provisioner call; when it fails, reconciles the record (the truth may have moved). */
  private async guarded<T>(id: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (!OrchestratorErrors.is(e) && !isCancellation(e)) {
        this.track(
          this.reconcile(id).catch((r) =>
            this.log.warn('reconcile failed', { id, error: String(r) }),
          ),
        );
      }
      throw e;
    }
  }

  /** Fills the cache from the store once. */
  private loaded(): Promise<void> {
    this.loading ??= this.store.list().then((records) => {
      for (const r of records) if (!this.cache.has(r.id)) this.cache.set(r.id, r);
    });
    return this.loading;
  }

  /** Every record (from the cache), oldest first. */
  private async all(): Promise<EnvironmentRecord[]> {
    await this.loaded();
    return [...this.cache.values()];
  }

  /** Writes a record to the store and the cache, without an event. */
  private async putQuiet(rec: EnvironmentRecord): Promise<void> {
    await this.store.put(rec);
    this.cache.set(rec.id, rec);
  }

  private async load(id: string): Promise<EnvironmentRecord> {
    const rec = await this.store.get(id);
    if (!rec) {
      throw OrchestratorErrors.create('not_found', `No environment ${id}.`, {
        subject: id,
        hint: 'List environments with `virtos env ls`.',
      });
    }
    return rec;
  }

  private async nextSeq(id: string): Promise<number> {
    if (!this.seqs.has(id)) {
      await this.appendChain;
      const last = (await this.store.events(id)).at(-1)?.seq ?? 0;
      if (!this.seqs.has(id)) this.seqs.set(id, last);
    }
    const seq = (this.seqs.get(id) ?? 0) + 1;
    this.seqs.set(id, seq);
    return seq;
  }

  /** Appends events in order (one chain for the whole orchestrator) and announces them. */
  private async appendEvents(id: string, events: readonly NewEvent[]): Promise<void> {
    for (const ev of events) {
      const full: EnvironmentEvent = {
        ...ev,
        seq: await this.nextSeq(id),
        at: this.clock.now(),
        envId: id,
      };
      const appended = this.appendChain.then(async () => {
        try {
          await this.store.appendEvent(full);
        } catch (e) {
          this.log.error('cannot append event', { id, seq: full.seq, error: String(e) });
        }
        if (!this.disposed) this.emitter.fire(full);
      });
      this.appendChain = appended;
      await appended;
    }
  }

  /** Saves the record (stamping updatedAt) and its events. */
  private async save(
    rec: EnvironmentRecord,
    events: readonly NewEvent[],
  ): Promise<EnvironmentRecord> {
    const saved = { ...rec, updatedAt: this.clock.now() };
    await this.putQuiet(saved);
    await this.appendEvents(saved.id, events);
    return saved;
  }

  /** Moves a record to `to` (checked against TRANSITIONS), with one `transition` event. */
  private async transition(
    rec: EnvironmentRecord,
    to: LifecycleState,
    message: string,
    patch: Partial<EnvironmentRecord> = {},
    data?: Record<string, unknown>,
  ): Promise<EnvironmentRecord> {
    if (!TRANSITIONS[rec.state].includes(to)) {
      throw CoreErrors.create(
        'internal',
        `Transition ${rec.state} -> ${to} of env ${rec.id} is not in the table.`,
        {
          subject: rec.id,
          hint: 'This is a bug in the orchestrator.',
        },
      );
    }
    const next: EnvironmentRecord = { ...rec, ...patch, state: to };
    if (to !== 'failed') delete (next as { reason?: string }).reason;
    if (to !== 'running' && to !== 'suspended') delete (next as { display?: unknown }).display;
    const saved = await this.save(next, [
      {
        type: 'transition',
        from: rec.state,
        to,
        message,
        ...((data || next.reason) && {
          data: { ...(next.reason && { reason: next.reason }), ...data },
        }),
      },
    ]);
    this.log.info('transition', { id: rec.id, from: rec.state, to });
    if (!holdsCapacity(to)) this.kick();
    return saved;
  }

  private async fail(
    rec: EnvironmentRecord,
    reason: string,
    message: string,
    data?: Record<string, unknown>,
  ): Promise<EnvironmentRecord> {
    return this.transition(rec, 'failed', message, { reason }, data);
  }

  private checkQuota(
    owner: string,
    all: readonly EnvironmentRecord[],
    spec: EnvironmentSpec,
    excludeId: string | undefined,
    subject: string,
  ): void {
    const q = this.quota;
    const active = all.filter((r) => r.owner === owner && isActive(r.state) && r.id !== excludeId);
    const cpus = active.reduce((s, r) => s + r.spec.resources.cpus, 0) + spec.resources.cpus;
    const mem =
      active.reduce((s, r) => s + r.spec.resources.memoryMiB, 0) + spec.resources.memoryMiB;
    const over = (what: string, limit: number, wanted: number) =>
      OrchestratorErrors.create(
        'quota_exceeded',
        `Cannot place env ${subject} for ${owner}: the quota of ${limit} ${what} would be exceeded (${wanted} wanted).`,
        {
          subject,
          details: { owner, what, limit, wanted },
          hint: 'Terminate an environment you no longer need, or ask the host administrator for more.',
        },
      );
    if (
      excludeId === undefined &&
      q.maxEnvironments !== undefined &&
      active.length + 1 > q.maxEnvironments
    )
      throw over('environments', q.maxEnvironments, active.length + 1);
    if (q.maxCpus !== undefined && cpus > q.maxCpus) throw over('CPUs', q.maxCpus, cpus);
    if (q.maxMemoryMiB !== undefined && mem > q.maxMemoryMiB)
      throw over('MiB of memory', q.maxMemoryMiB, mem);
  }

  private waitSettled(id: string, signal?: AbortSignal): Promise<EnvironmentRecord> {
    return new Promise<EnvironmentRecord>((resolve, reject) => {
      let finished = false;
      const finish = (fn: () => void) => {
        if (finished) return;
        finished = true;
        sub.dispose();
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const settleFrom = () =>
        this.store.get(id).then(
          (r) => {
            if (r && SETTLED.has(r.state)) finish(() => resolve(r));
          },
          (e) => finish(() => reject(toVirtosError(e))),
        );
      const sub = this.onDidChange((e) => {
        if (e.envId === id && e.type === 'transition' && e.to && SETTLED.has(e.to))
          void settleFrom();
      });
      const onAbort = () =>
        finish(() =>
          reject(
            CoreErrors.create('cancelled', `Stopped waiting for env ${id}; it carries on.`, {
              subject: id,
            }),
          ),
        );
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      void settleFrom();
    });
  }

  // --- scheduling ------------------------------------------------------------------------------

  /** Runs a scheduling pass soon; passes never overlap, and requests during one cause another. */
  private kick(): void {
    if (this.disposed || this.oneShot) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.track(
      (async () => {
        try {
          do {
            this.pumpAgain = false;
            await this.schedulePass();
          } while (this.pumpAgain && !this.disposed);
        } catch (e) {
          this.log.error('scheduling pass failed', { error: String(e) });
        } finally {
          this.pumping = false;
        }
      })(),
    );
  }

  private async schedulePass(): Promise<void> {
    const records = await this.all();
    const usage = new Map<string, HostUsage>();
    const queue: ScheduleRequest[] = [];
    for (const r of records) {
      if (holdsCapacity(r.state) && r.host) {
        const u = usage.get(r.host) ?? { cpus: 0, memoryMiB: 0, gpus: 0 };
        u.cpus += r.spec.resources.cpus;
        u.memoryMiB += r.spec.resources.memoryMiB;
        u.gpus += r.spec.resources.gpus;
        usage.set(r.host, u);
      } else if (r.state === 'requested') {
        queue.push(toScheduleRequest(r.id, r.spec, r.queuedAt ?? r.createdAt));
      }
    }
    const plan = this.scheduler.plan(queue, usage, this.clock.now());
    this.queueLength = plan.waiting.length;
    for (const u of plan.unschedulable) {
      await this.withLock(u.id, async () => {
        const cur = await this.store.get(u.id);
        if (cur?.state === 'requested')
          await this.fail(cur, 'unschedulable', `no host can run it: ${u.reason}`);
      });
    }
    for (const p of plan.placements) {
      if (this.disposed) return;
      await this.withLock(p.id, () => this.startProvisioning(p.id, p.host));
    }
  }

  /** requested -> provisioning on `host`, then provisions in the background. Call under the lock. */
  private async startProvisioning(id: string, host: string): Promise<void> {
    const rec = await this.store.get(id);
    if (!rec || rec.state !== 'requested') return;
    let choice;
    try {
      choice = this.provisioner.chooseRuntime(rec.spec);
    } catch (e) {
      const err = toVirtosError(e);
      await this.fail(rec, 'runtime_unavailable', err.message, { code: err.code });
      return;
    }
    const findings = rec.findings.filter(
      (f) => !(f.kind === 'substitution' && f.field === 'runtime'),
    );
    if (choice.substitution) findings.push(choice.substitution);
    const cur = await this.transition(
      rec,
      'provisioning',
      `placed on ${host}; provisioning with ${choice.kind}`,
      {
        host,
        runtime: { kind: choice.kind, reason: choice.reason },
        findings,
        attempts: (rec.attempts ?? 0) + 1,
      },
      { host, runtime: choice.kind },
    );
    this.launch(cur);
  }

  private launch(rec: EnvironmentRecord): void {
    const id = rec.id;
    const abort = new AbortController();
    const t0 = this.clock.monotonic();
    const entry: Inflight = { abort, done: Promise.resolve() };
    this.inflight.set(id, entry);
    entry.done = this.track(
      (async () => {
        try {
          const env = await this.provisioner.provision(
            { signal: abort.signal },
            { id, spec: rec.spec },
            (p) => {
              void this.appendEvents(id, [
                {
                  type: 'progress',
                  message: p.message,
                  data: { phase: p.phase, elapsedMs: p.elapsedMs },
                },
              ]);
            },
          );
          await this.withLock(id, async () => {
            const cur = await this.store.get(id);
            if (entry.why || !cur || cur.state !== 'provisioning') {
              // Terminated or shut down while the last step finished: the terminate path or the
              // next start() removes it; here we only make sure nothing is left running.
              if (!entry.why) await this.teardownQuietly(id);
              return;
            }
            this.held.add(id);
            const seconds = (this.clock.monotonic() - t0) / 1000;
            this.observe(seconds);
            const now = this.clock.now();
            await this.transition(
              cur,
              'running',
              `running on ${cur.host} (${env.runtime.kind}) after ${seconds.toFixed(3)} s`,
              {
                startedAt: now,
                lastActiveAt: now,
                ...(env.display && { display: { ...env.display } }),
              },
              { provisionSeconds: seconds },
            );
          });
        } catch (e) {
          if (entry.why === 'terminate') return;
          await this.withLock(id, async () => {
            const cur = await this.store.get(id);
            if (!cur || cur.state !== 'provisioning') return;
            await this.teardownQuietly(id);
            if (entry.why === 'shutdown') {
              await this.transition(
                cur,
                'requested',
                'provisioning interrupted by shutdown; queued again',
                {
                  host: '',
                },
              );
              return;
            }
            const err = toVirtosError(e);
            await this.appendEvents(id, [
              { type: 'error', message: err.message, data: { code: err.code } },
            ]);
            await this.fail(cur, 'provision_failed', `provisioning failed: ${err.message}`, {
              code: err.code,
            });
          });
        } finally {
          this.inflight.delete(id);
          this.kick();
        }
      })(),
    );
  }

  private observe(seconds: number): void {
    this.histogram.count += 1;
    this.histogram.sum += seconds;
    PROVISIONING_BUCKETS_S.forEach((le, i) => {
      if (seconds <= le) this.histogram.counts[i] = (this.histogram.counts[i] ?? 0) + 1;
    });
  }

  private async teardownQuietly(id: string): Promise<boolean> {
    this.held.delete(id);
    try {
      await this.provisioner.teardown(this.ctx(), id);
      return true;
    } catch (e) {
      this.log.warn('teardown failed; the reconciler retries', { id, error: String(e) });
      return false;
    }
  }

  private async terminateWith(id: string, message: string): Promise<EnvironmentRecord> {
    const entry = await this.withLock(id, async () => {
      const rec = await this.load(id);
      assertAllowed(id, rec.state, 'terminate');
      const e = this.inflight.get(id);
      if (e) {
        e.why = 'terminate';
        e.abort.abort();
      }
      return e;
    });
    if (entry) await entry.done.catch(() => undefined);
    return this.withLock(id, async () => {
      const rec = await this.load(id);
      if (rec.state === 'terminated') return rec;
      const clean = await this.teardownQuietly(id);
      const done = await this.transition(
        rec,
        'terminated',
        message,
        {},
        clean ? undefined : { teardown: 'pending' },
      );
      if (!clean) {
        await this.appendEvents(id, [
          {
            type: 'error',
            message: 'teardown failed; the reconciler will retry',
            data: { code: 'teardown_failed' },
          },
        ]);
      }
      return done;
    });
  }

  // --- reconciling -----------------------------------------------------------------------------

  private arm(): void {
    if (this.disposed) return;
    this.timer = this.clock.setTimeout(() => {
      this.arm();
      if (this.reconcilingAll) return;
      this.track(
        this.reconcileAll().catch((e) => this.log.error('reconcile failed', { error: String(e) })),
      );
    }, this.intervalMs);
  }

  private async reconcileAll(): Promise<void> {
    if (this.reconcilingAll) return;
    this.reconcilingAll = true;
    try {
      // Traces first, records second: any trace was made after its record was saved, so a trace
      // without a record here is a true orphan, never a create in progress.
      const traces = new Set(await this.provisioner.list(this.ctx()));
      const records = await this.store.list();
      for (const r of records) this.cache.set(r.id, r);
      for (const r of records) {
        if (this.disposed) return;
        try {
          await this.reconcileOne(r.id, traces);
        } catch (e) {
          this.log.warn('reconcile of one environment failed', { id: r.id, error: String(e) });
        }
      }
      const known = new Set(records.map((r) => r.id));
      for (const id of traces) {
        if (known.has(id) || this.inflight.has(id)) continue;
        if (await this.teardownQuietly(id)) this.log.info('removed an orphan environment', { id });
      }
      this.kick();
    } finally {
      this.reconcilingAll = false;
    }
  }

  private async reconcileOne(id: string, traces: ReadonlySet<string>): Promise<void> {
    let requeue = false;
    await this.withLock(id, async () => {
      const rec = await this.store.get(id);
      if (!rec) {
        this.cache.delete(id);
        if (traces.has(id) && !this.inflight.has(id)) await this.teardownQuietly(id);
        return;
      }
      this.cache.set(id, rec);
      switch (rec.state) {
        case 'requested':
          requeue = true;
          return;
        case 'provisioning': {
          if (this.inflight.has(id)) return;
          // Left by an earlier daemon process: its provisioning can never finish.
          if (!(await this.teardownQuietly(id))) return;
          if ((rec.attempts ?? 0) >= this.maxAttempts) {
            await this.fail(
              rec,
              'provisioning_interrupted',
              `provisioning was interrupted ${rec.attempts ?? 0} times; partial environment removed`,
            );
            return;
          }
          await this.transition(
            rec,
            'requested',
            'provisioning was interrupted (daemon restarted); partial environment removed, queued again',
            { host: '' },
          );
          requeue = true;
          return;
        }
        case 'running':
        case 'suspended':
          await this.reconcileLive(rec);
          return;
        case 'terminated':
        case 'failed':
          if (traces.has(id) && !this.inflight.has(id)) await this.teardownQuietly(id);
          return;
      }
    });
    if (requeue) this.kick();
  }

  /**
   * running/suspended: adoption of an environment an earlier daemon process left running (once per
   * orchestrator), vanished, drift between frozen and running, TTL and idle suspend.
   */
  private async reconcileLive(rec: EnvironmentRecord): Promise<void> {
    const id = rec.id;
    let observed;
    try {
      const p = this.provisioner;
      if (!this.held.has(id) && canAdopt(p)) {
        // Environments outlive the daemon: re-attach it, re-making what lived in the old process
        // (e.g. its egress proxy). Only the registry has the spec this needs.
        observed = await p.adopt(this.ctx(), { id, spec: rec.spec });
        if (observed.state === 'running' || observed.state === 'paused') {
          this.held.add(id);
          this.log.info('adopted', { id, state: observed.state });
        }
      } else {
        observed = await this.provisioner.status(this.ctx(), id);
      }
    } catch (e) {
      if (!RuntimeErrors.is(e, 'not_found')) {
        if (this.held.has(id) || !canAdopt(this.provisioner)) throw e;
        if (!RuntimeErrors.is(e, 'unadoptable')) {
          // Maybe transient (a record read, an `ip` or `nft` call, the runtime's CLI): the
          // environment may be healthy, so it is left running, unheld, and the next pass tries
          // again. Until then what it needs from this process is missing, which fails closed.
          this.log.warn('adoption failed; retried on the next pass', {
            id,
            error: String(e),
          });
          return;
        }
        // It runs, but what it needs from this process can never be made again (the provisioner
        // says so): a half-working environment (e.g. an allowlist without its network) is removed
        // rather than kept.
        const err = toVirtosError(e);
        await this.teardownQuietly(id);
        await this.appendEvents(id, [
          { type: 'error', message: err.message, data: { code: err.code } },
        ]);
        await this.fail(rec, 'adoption_failed', `could not be adopted: ${err.message}`, {
          code: err.code,
        });
        return;
      }
      await this.teardownQuietly(id);
      await this.fail(rec, 'vanished', 'the runtime has no trace of it any more');
      return;
    }
    if (observed.state === 'stopped' || observed.state === 'created') {
      await this.teardownQuietly(id);
      await this.fail(
        rec,
        'vanished',
        `its processes ended (${observed.state}${observed.exitCode !== undefined ? `, exit code ${observed.exitCode}` : ''})`,
        observed.exitCode !== undefined ? { exitCode: observed.exitCode } : undefined,
      );
      return;
    }
    const now = this.clock.now();
    const ttl = rec.spec.lifetime.ttlMinutes;
    if (ttl !== null && rec.startedAt !== undefined && now >= rec.startedAt + ttl * 60_000) {
      const clean = await this.teardownQuietly(id);
      await this.transition(
        rec,
        'terminated',
        `time to live of ${ttl} min reached`,
        {},
        clean ? { ttl } : { ttl, teardown: 'pending' },
      );
      return;
    }
    // Converge the runtime to the record: the record says what the user last asked for.
    if (rec.state === 'running' && observed.state === 'paused') {
      await this.provisioner.resume(this.ctx(), id);
    } else if (rec.state === 'suspended' && observed.state === 'running') {
      await this.provisioner.suspend(this.ctx(), id);
    }
    const idle = rec.spec.lifetime.idleSuspendMinutes;
    const since = rec.lastActiveAt ?? rec.startedAt;
    if (
      rec.state === 'running' &&
      idle !== null &&
      since !== undefined &&
      now >= since + idle * 60_000
    ) {
      await this.provisioner.suspend(this.ctx(), id);
      await this.transition(
        rec,
        'suspended',
        `idle for ${idle} min; suspended`,
        {},
        { idleMinutes: idle },
      );
    }
  }
}

function toScheduleRequest(id: string, spec: EnvironmentSpec, queuedAt: number): ScheduleRequest {
  return {
    id,
    cpus: spec.resources.cpus,
    memoryMiB: spec.resources.memoryMiB,
    gpus: spec.resources.gpus,
    runtime: spec.runtime,
    priority: PRIORITY_VALUES[spec.priority],
    queuedAt,
  };
}
