/**
 * The real {@link Provisioner}: image layers (images.ensure) -> overlay root with a RAM writable
 * layer (mountRootfs or the warm pool) -> network namespace and mode (network manager) -> driver
 * create + start -> display ready for desktops. Every environment has a record on disk
 * (`<stateDir>/envs/<id>.json`, written before the first side effect and updated after each), so a
 * fresh process can tear down what a crashed one left.
 */
import { chmod, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  VirtosError,
  nullLogger,
  systemClock,
  throwIfAborted,
  type Clock,
  type Logger,
} from '@virtos/core';
import {
  imageRequestFromSpec,
  mountRootfs,
  readMounts,
  unmountRootfs,
  type ImageStore,
  type MountedRootfs,
  type Mounter,
  type WarmPool,
} from '@virtos/images';
import type { BindMount, NetworkAttachment, NetworkManager } from '@virtos/sandbox';
import type { EnvironmentSpec, Finding } from '@virtos/spec';
import {
  DRIVER_KINDS,
  assertEnvironmentId,
  canExec,
  canExecStream,
  canOpenPty,
  canPause,
  hasDisplay,
  type DisplayEndpoint,
  type DriverContext,
  type EnvironmentStatus,
  type ExecOutputSink,
  type ExecRequest,
  type ExecResult,
  type ExecStreamResult,
  type KnownDriverKind,
  type PtyRequest,
  type PtySession,
  type RuntimeDriver,
} from '../common/driver.js';
import { RuntimeErrors } from '../common/errors.js';
import { vmUnavailable } from '../common/fake-provisioner.js';
import type {
  ProvisionPhase,
  ProvisionProgress,
  ProvisionRequest,
  ProvisionedEnvironment,
  Provisioner,
  RuntimeChoice,
} from '../common/provisioner.js';
import { desktopAppsFor } from './oci/desktop.js';
import { probeVirtualization } from './probe.js';

/** Default state directory of the provisioner: on /run, i.e. in RAM (records name no user data). */
export const DEFAULT_PROVISIONER_STATE_DIR = '/run/virtos/provisioner';

/** Options of {@link createProvisioner}. */
export interface ProvisionerOptions {
  /** Records (`envs/`) and root mount points (`roots/`); put it on a tmpfs. */
  readonly stateDir: string;
  readonly images: ImageStore;
  /**
   * The network manager. Its stateDir must belong to this provisioner: a teardown of an environment
   * of a crashed process calls its `cleanupLeftovers` with every other id this provisioner knows.
   */
  readonly network: NetworkManager;
  /** `container`: crun or runc; `microvm`: runsc (gVisor) when installed. */
  readonly drivers: { readonly container: RuntimeDriver; readonly microvm?: RuntimeDriver };
  readonly logger?: Logger;
  /** Ready root mounts for popular images; used when it holds the image with the same disk size. */
  readonly warmPool?: WarmPool;
  readonly clock?: Clock;
  /** Why hardware virtualization is not usable (default: the host probe's verdict). */
  readonly virtualization?: { readonly usable: boolean; readonly detail: string };
  /** How long a desktop may take to become display-ready, ms (default 20000). */
  readonly displayTimeoutMs?: number;
  /**
   * Mounting and unmounting of roots: `mountRootfs`/`unmountRootfs`/`/proc/self/mountinfo` by
   * default; unit tests pass fakes.
   */
  readonly mounts?: {
    readonly mount: Mounter;
    readonly unmount: (path: string, scratch: string) => Promise<void>;
    readonly mountPoints: () => Promise<readonly string[]>;
  };
}

const hostMounts: NonNullable<ProvisionerOptions['mounts']> = {
  mount: mountRootfs,
  unmount: (path, scratch) => unmountRootfs(path, scratch),
  mountPoints: async () => (await readMounts()).map((m) => m.mountPoint),
};

/** What a record on disk says about one environment (ids, paths and kernel names only). */
interface EnvRecord {
  readonly v: 1;
  readonly id: string;
  readonly kind: KnownDriverKind;
  readonly desktop: boolean;
  /** The overlay mount point and its scratch tmpfs, once mounted (or planned). */
  rootfs?: { readonly path: string; readonly scratch: string };
  /** True once network setup was started (a netns may exist). */
  network?: boolean;
  startedAt?: number;
}

/** In-process handles of an environment made by this instance. */
interface Live {
  readonly record: EnvRecord;
  rootfs?: MountedRootfs | undefined;
  attachment?: NetworkAttachment | undefined;
}

const RECORD_RE = /^([a-z0-9][a-z0-9_-]{0,62})\.json$/;

/** The real provisioner: a {@link Provisioner} that can adopt environments of earlier processes. */
export type HostProvisionerApi = Provisioner & Required<Pick<Provisioner, 'adopt'>>;

/** Creates the real provisioner; see {@link Provisioner}. */
export function createProvisioner(opts: ProvisionerOptions): HostProvisionerApi {
  return new HostProvisioner(opts);
}

function substitution(message: string, code: string): Finding {
  return { kind: 'substitution', blocking: false, field: 'runtime', message, code };
}

class HostProvisioner implements Provisioner {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly envDir: string;
  private readonly rootsDir: string;
  private readonly live = new Map<string, Live>();
  /** Per-id serialisation of provision/teardown. */
  private readonly locks = new Map<string, Promise<unknown>>();
  private virt: { usable: boolean; detail: string } | undefined;
  private readonly mounts: NonNullable<ProvisionerOptions['mounts']>;
  private dirsReady = false;

  constructor(private readonly opts: ProvisionerOptions) {
    this.log = (opts.logger ?? nullLogger).child({ component: 'provisioner' });
    this.clock = opts.clock ?? systemClock;
    this.envDir = join(opts.stateDir, 'envs');
    this.rootsDir = join(opts.stateDir, 'roots');
    this.mounts = opts.mounts ?? hostMounts;
  }

  private virtualization(): { usable: boolean; detail: string } {
    if (this.opts.virtualization) return this.opts.virtualization;
    if (!this.virt) {
      const p = probeVirtualization();
      this.virt = { usable: p.status === 'ok', detail: p.detail };
    }
    return this.virt;
  }

  chooseRuntime(spec: EnvironmentSpec): RuntimeChoice {
    const { container, microvm } = this.opts.drivers;
    const containerKind = container.kind as KnownDriverKind;
    const containerName = containerKind.replace(/^oci\.|\/v\d+$/g, '');
    switch (spec.runtime) {
      case 'vm':
        throw vmUnavailable(spec.name);
      case 'container':
        return {
          kind: containerKind,
          reason: `container class: ${containerName} (crun preferred, runc otherwise)`,
        };
      case 'microvm': {
        const virt = this.virtualization();
        const whyNoVm = virt.usable
          ? 'no microVM monitor (Firecracker, cloud-hypervisor) is installed on this host'
          : `hardware virtualization is not usable here: ${virt.detail}`;
        if (microvm && spec.display !== 'desktop') {
          return {
            kind: microvm.kind as KnownDriverKind,
            reason: 'microvm class: gVisor (runsc) gives the environment its own user-space kernel',
            substitution: substitution(
              `microvm runs as gVisor (runsc) instead of a virtual machine: ${whyNoVm}.`,
              'runtime.microvm_as_gvisor',
            ),
          };
        }
        const why = microvm
          ? 'gVisor cannot host desktops here (the VNC socket cannot be created through it)'
          : 'gVisor (runsc) is not installed';
        return {
          kind: containerKind,
          reason: `microvm class: ${containerName} with hardened isolation (${why})`,
          substitution: substitution(
            `microvm runs as a ${containerName} container with hardened isolation (strict seccomp): ${why}, and ${whyNoVm}.`,
            'runtime.microvm_as_hardened_container',
          ),
        };
      }
    }
  }

  private driverFor(kind: KnownDriverKind): RuntimeDriver {
    const { container, microvm } = this.opts.drivers;
    if (container.kind === kind) return container;
    if (microvm?.kind === kind) return microvm;
    throw RuntimeErrors.create('unavailable', `No driver ${kind} is configured in this process.`, {
      subject: kind,
      hint: 'The environment was made by a daemon with other runtimes; tear it down or restart with the same runtimes.',
    });
  }

  private recordPath(id: string): string {
    return join(this.envDir, `${id}.json`);
  }

  private async writeRecord(rec: EnvRecord): Promise<void> {
    await this.ensureDirs();
    const tmp = `${this.recordPath(rec.id)}.tmp`;
    await writeFile(tmp, JSON.stringify(rec), { mode: 0o600 });
    await rename(tmp, this.recordPath(rec.id));
  }

  /**
   * Creates the state directories once. SECURITY: the state dir and everything in it is root-only
   * (0700): `roots/` holds the mounted root file systems, i.e. every file the environments write
   * (user data), which no other host user may traverse to; records (0600) hold ids, kinds and paths.
   */
  private async ensureDirs(): Promise<void> {
    if (this.dirsReady) return;
    await mkdir(this.opts.stateDir, { recursive: true, mode: 0o700 });
    await chmod(this.opts.stateDir, 0o700);
    await mkdir(this.envDir, { recursive: true, mode: 0o700 });
    await mkdir(this.rootsDir, { recursive: true, mode: 0o700 });
    this.dirsReady = true;
  }

  private async readRecord(id: string): Promise<EnvRecord | undefined> {
    try {
      const rec = JSON.parse(await readFile(this.recordPath(id), 'utf8')) as EnvRecord;
      return rec.v === 1 && rec.id === id ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  /** Runs `fn` after any other provision/teardown of the same id. */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  provision(
    ctx: DriverContext,
    req: ProvisionRequest,
    onProgress?: (p: ProvisionProgress) => void,
  ): Promise<ProvisionedEnvironment> {
    assertEnvironmentId(req.id);
    return this.serial(req.id, () => this.doProvision(ctx, req, onProgress));
  }

  private async doProvision(
    ctx: DriverContext,
    req: ProvisionRequest,
    onProgress?: (p: ProvisionProgress) => void,
  ): Promise<ProvisionedEnvironment> {
    const t0 = this.clock.monotonic();
    const progress = (phase: ProvisionPhase, message: string): void => {
      throwIfAborted(ctx.signal, 'provision');
      onProgress?.({ phase, message, elapsedMs: Math.round(this.clock.monotonic() - t0) });
    };
    const { id, spec } = req;
    const runtime = this.chooseRuntime(spec);
    const driver = this.driverFor(runtime.kind);
    if (this.live.has(id) || (await this.readRecord(id))) {
      throw RuntimeErrors.create('already_exists', `Environment ${id} already exists.`, {
        subject: id,
        hint: 'Tear it down first, or use another id.',
      });
    }
    const desktop = spec.display === 'desktop';
    const record: EnvRecord = { v: 1, id, kind: runtime.kind, desktop };
    const live: Live = { record };
    this.live.set(id, live);
    try {
      await this.writeRecord(record);

      progress('image', 'resolving image layers');
      const image = await this.opts.images.ensure(imageRequestFromSpec(spec), {
        signal: ctx.signal,
        onProgress: (p) => {
          if (p.phase !== 'reused') {
            onProgress?.({
              phase: 'image',
              message: `${p.layer}: ${p.phase}${p.message ? ` ${p.message}` : ''}`,
              elapsedMs: Math.round(this.clock.monotonic() - t0),
            });
          }
        },
      });

      progress('rootfs', 'mounting the root file system');
      const target = join(this.rootsDir, id);
      record.rootfs = { path: target, scratch: `${target}.rw` };
      await this.writeRecord(record);
      // A pooled mount is used only when its writable size is the spec's disk size.
      const pool = this.opts.warmPool;
      const pooled = pool?.stats(image.key)[0]?.writableMiB === spec.resources.diskMiB;
      live.rootfs =
        pool && pooled
          ? await pool.acquire(image.key)
          : await this.mounts.mount(image, { target, writableMiB: spec.resources.diskMiB });
      record.rootfs = { path: live.rootfs.path, scratch: live.rootfs.scratch };
      await this.writeRecord(record);
      throwIfAborted(ctx.signal, 'provision');

      const mounts: BindMount[] = [];
      let netnsPath: string | undefined;
      // `none` without peers needs no manager: the driver's fresh netns has loopback only.
      if (spec.network.mode !== 'none' || spec.network.peers.length > 0) {
        progress('network', `setting up ${spec.network.mode} network`);
        record.network = true;
        await this.writeRecord(record);
        const a = await this.opts.network.setup(
          { id, name: spec.name, ...(req.groups && { groups: req.groups }) },
          spec.network,
          { signal: ctx.signal },
        );
        live.attachment = a;
        netnsPath = a.netnsPath;
        // SECURITY: read-only binds of files the network manager wrote for this environment only;
        // the container cannot change its resolver or its peers' names.
        mounts.push(
          { source: a.resolvConfPath, destination: '/etc/resolv.conf', readOnly: true },
          { source: a.hostsPath, destination: '/etc/hosts', readOnly: true },
        );
      }

      progress('create', `creating the sandbox (${runtime.kind})`);
      const hardened =
        runtime.substitution?.code === 'runtime.microvm_as_hardened_container' &&
        spec.security.isolation === 'standard';
      const driverSpec = hardened
        ? { ...spec, security: { ...spec.security, isolation: 'hardened' as const } }
        : spec;
      await driver.create(ctx, {
        id,
        spec: driverSpec,
        rootfs: live.rootfs.path,
        ...(netnsPath !== undefined && { netnsPath }),
        ...(mounts.length > 0 && { mounts }),
        ...(desktop && { apps: desktopAppsFor(spec) }),
        ...(!desktop && { process: { args: ['/bin/sh', '-c', 'exec sleep infinity'] } }),
      });

      progress('start', 'starting');
      let status = await driver.start(ctx, id);
      assertStarted(id, status);
      let display: DisplayEndpoint | undefined;
      if (desktop) {
        progress('display', 'waiting for the display and the window manager');
        if (!hasDisplay(driver)) {
          throw RuntimeErrors.create('unavailable', `${driver.kind} has no display.`, {
            subject: id,
            hint: 'Desktops need a driver with the display capability (crun or runc).',
          });
        }
        display = await driver.display(ctx, id, {
          timeoutMs: this.opts.displayTimeoutMs ?? 20_000,
        });
        status = await driver.status(ctx, id);
        assertStarted(id, status);
      }
      const startedAt = this.clock.now();
      record.startedAt = startedAt;
      await this.writeRecord(record);
      const provisionMs = Math.round(this.clock.monotonic() - t0);
      this.log.info('provisioned', { id, kind: runtime.kind, ms: provisionMs });
      return {
        id,
        runtime,
        status,
        ...(display && { display }),
        startedAt,
        provisionMs,
      };
    } catch (e) {
      // Undo exactly what was made, whatever step failed (a cancelled signal included).
      await this.undo(id).catch((u: unknown) => {
        this.log.error('cleanup after failed provision failed', {
          id,
          error: u instanceof Error ? u.message : String(u),
        });
      });
      throw e;
    }
  }

  private async live0(ctx: DriverContext, id: string): Promise<RuntimeDriver> {
    throwIfAborted(ctx.signal, 'provisioner');
    const l = this.live.get(id);
    const rec = l?.record ?? (await this.readRecord(id));
    if (!rec) {
      throw RuntimeErrors.create('not_found', `No environment ${id} on this host.`, {
        subject: id,
        hint: 'List environments with `virtos env ls`; it may have been torn down.',
      });
    }
    return this.driverFor(rec.kind);
  }

  async suspend(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    const d = await this.live0(ctx, id);
    if (!canPause(d)) throw noCapability(id, d, 'pause');
    return d.pause(ctx, id);
  }

  async resume(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    const d = await this.live0(ctx, id);
    if (!canPause(d)) throw noCapability(id, d, 'pause');
    return d.resume(ctx, id);
  }

  async exec(ctx: DriverContext, id: string, req: ExecRequest): Promise<ExecResult> {
    const d = await this.live0(ctx, id);
    if (!canExec(d)) throw noCapability(id, d, 'exec');
    return d.exec(ctx, id, req);
  }

  async execStream(
    ctx: DriverContext,
    id: string,
    req: ExecRequest,
    sink: ExecOutputSink,
  ): Promise<ExecStreamResult> {
    const d = await this.live0(ctx, id);
    if (!canExecStream(d)) throw noCapability(id, d, 'exec-stream');
    return d.execStream(ctx, id, req, sink);
  }

  async openPty(ctx: DriverContext, id: string, req: PtyRequest): Promise<PtySession> {
    const d = await this.live0(ctx, id);
    if (!canOpenPty(d)) throw noCapability(id, d, 'pty');
    return d.openPty(ctx, id, req);
  }

  async status(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    // A provision, adoption or teardown of this id in flight: answer after it, never from a
    // half-made or half-removed environment (a record whose sandbox is not created yet, or is
    // already deleted, would otherwise read as stopped and be reported vanished).
    const pending = this.locks.get(id);
    if (pending) await pending;
    const d = await this.live0(ctx, id);
    try {
      return await d.status(ctx, id);
    } catch (e) {
      // A record whose sandbox is gone (a crash before the driver's create, or removed from
      // outside): nothing of it runs. Reported stopped; the reconciler tears it down.
      if (e instanceof VirtosError && e.code === 'runtime.not_found')
        return { id, state: 'stopped' };
      throw e;
    }
  }

  async display(ctx: DriverContext, id: string): Promise<DisplayEndpoint> {
    const d = await this.live0(ctx, id);
    if (!hasDisplay(d)) throw noCapability(id, d, 'display');
    return d.display(ctx, id, { timeoutMs: this.opts.displayTimeoutMs ?? 20_000 });
  }

  adopt(ctx: DriverContext, req: ProvisionRequest): Promise<EnvironmentStatus> {
    throwIfAborted(ctx.signal, 'adopt');
    assertEnvironmentId(req.id);
    return this.serial(req.id, () => this.doAdopt(ctx, req));
  }

  /**
   * An environment of an earlier daemon process: the driver finds it from its bundle (the runtime
   * kept it running); the network manager re-creates what lived in that process. The root mount
   * and the record stay as they are (teardown works from the record).
   */
  private async doAdopt(ctx: DriverContext, req: ProvisionRequest): Promise<EnvironmentStatus> {
    const { id, spec } = req;
    const known = this.live.get(id);
    const rec = known?.record ?? (await this.readRecord(id));
    if (!rec) {
      throw RuntimeErrors.create('not_found', `No environment ${id} on this host.`, {
        subject: id,
        hint: 'It was torn down, or the host rebooted (its state lives in RAM).',
      });
    }
    const driver = this.driverFor(rec.kind);
    let status: EnvironmentStatus;
    try {
      status = await driver.status(ctx, id);
    } catch (e) {
      if (e instanceof VirtosError && e.code === 'runtime.not_found')
        return { id, state: 'stopped' };
      throw e;
    }
    if (known || (status.state !== 'running' && status.state !== 'paused')) return status;
    const live: Live = { record: rec };
    if (rec.network) {
      try {
        live.attachment = await this.opts.network.adopt(
          { id, name: spec.name, ...(req.groups && { groups: req.groups }) },
          spec.network,
        );
      } catch (e) {
        // The network manager says its record or namespace is gone: no retry can make it whole.
        // Anything else (a failing `ip`/`nft` call, a port) may pass; the caller retries then.
        if (e instanceof VirtosError && e.code === 'network.setup_failed') {
          throw RuntimeErrors.create('unadoptable', `Cannot adopt ${id}: ${e.message}`, {
            subject: id,
            cause: e,
            hint: 'It is torn down; create it again.',
          });
        }
        throw e;
      }
    }
    this.live.set(id, live);
    this.log.info('adopted', { id, kind: rec.kind, state: status.state });
    return status;
  }

  teardown(ctx: DriverContext, id: string): Promise<void> {
    throwIfAborted(ctx.signal, 'teardown');
    assertEnvironmentId(id);
    return this.serial(id, () => this.undo(id));
  }

  /**
   * Removes everything of `id` in reverse order: the sandbox (driver delete), the network, the root
   * mount, then the record. Works from the in-process handles or, for a previous process's
   * environment, from the record. Deliberately not cancellable: a half-done cleanup helps no one.
   */
  private async undo(id: string): Promise<void> {
    const ctx: DriverContext = { signal: new AbortController().signal };
    const l = this.live.get(id);
    const rec = l?.record ?? (await this.readRecord(id));
    // 1. The sandbox: every configured driver's delete is idempotent for ids it does not know, and
    //    removes a crashed process's container, bundle, VNC dir and cgroups by name.
    const drivers = [this.opts.drivers.container, this.opts.drivers.microvm].filter(
      (d): d is RuntimeDriver => d !== undefined,
    );
    const ordered = rec
      ? [
          ...drivers.filter((d) => d.kind === rec.kind),
          ...drivers.filter((d) => d.kind !== rec.kind),
        ]
      : drivers;
    for (const d of ordered) await d.delete(ctx, id);
    // 2. The network.
    if (l?.attachment) {
      await l.attachment.dispose();
      l.attachment = undefined;
    } else if (rec?.network) {
      const others = (await this.recordIds()).filter((x) => x !== id);
      await this.opts.network.cleanupLeftovers(
        [...new Set([...others, ...this.live.keys()])].filter((x) => x !== id),
      );
    }
    // 3. The root file system.
    if (l?.rootfs) {
      await l.rootfs.dispose();
      l.rootfs = undefined;
    } else if (rec?.rootfs) {
      await this.mounts.unmount(rec.rootfs.path, rec.rootfs.scratch);
    } else {
      const target = join(this.rootsDir, id);
      await this.mounts.unmount(target, `${target}.rw`);
    }
    // 4. The record, last: until here a retry knows what to remove.
    await rm(this.recordPath(id), { force: true });
    this.live.delete(id);
    this.log.info('torn down', { id });
  }

  private async recordIds(): Promise<string[]> {
    try {
      return (await readdir(this.envDir))
        .map((f) => RECORD_RE.exec(f)?.[1])
        .filter((x): x is string => x !== undefined);
    } catch {
      return [];
    }
  }

  async list(ctx: DriverContext): Promise<readonly string[]> {
    throwIfAborted(ctx.signal, 'list');
    const ids = new Set<string>([...this.live.keys(), ...(await this.recordIds())]);
    for (const d of [this.opts.drivers.container, this.opts.drivers.microvm]) {
      if (d) for (const x of await d.list(ctx)) ids.add(x);
    }
    const under = (await this.mounts.mountPoints()).filter((m) =>
      m.startsWith(`${this.rootsDir}/`),
    );
    for (const m of under) {
      const name = m.slice(this.rootsDir.length + 1).split('/')[0] ?? '';
      const id = name.replace(/\.rw$/, '');
      if (RECORD_RE.test(`${id}.json`)) ids.add(id);
    }
    return [...ids].sort();
  }
}

/** A provisioning must never hand over an environment whose first process already ended. */
function assertStarted(id: string, status: EnvironmentStatus): void {
  if (status.state === 'running' || status.state === 'paused') return;
  throw RuntimeErrors.create(
    'failed',
    `Environment ${id} ended right after its start (${status.state}${status.exitCode !== undefined ? `, exit code ${status.exitCode}` : ''}).`,
    { subject: id, hint: 'Check the image and the spec; `virtos doctor` checks the runtime.' },
  );
}

function noCapability(id: string, d: RuntimeDriver, what: string): Error {
  return RuntimeErrors.create('invalid_request', `${d.kind} cannot ${what} (environment ${id}).`, {
    subject: id,
    hint: `Use a runtime with the ${what} capability.`,
  });
}

/** The driver kinds the provisioner can choose (for docs and the daemon's status page). */
export const PROVISIONER_KINDS: readonly KnownDriverKind[] = [
  DRIVER_KINDS.crun,
  DRIVER_KINDS.runc,
  DRIVER_KINDS.runsc,
];
