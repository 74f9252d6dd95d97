/**
 * The `oci` driver: runs each environment as an OCI bundle under crun, runc or runsc. The bundle's
 * config comes from the sandbox policy (@virtos/sandbox); the driver adds only host paths (bundle,
 * VNC directory, cgroup path). The runtime runs in the foreground (`run`) under a small detached
 * shim (oci-cli.ts), not as a child of the daemon: environments outlive the daemon, a new daemon
 * adopts them from their bundles, and the shim keeps the exit code in the bundle.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, readFileSync, readdirSync, watch, writeFileSync } from 'node:fs';
import { chmod, mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '@virtos/core';
import { DESKTOP_USER, buildOciConfig, type OciConfig } from '@virtos/sandbox';
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
  type KnownDriverKind,
  type PauseCapability,
  type PtyCapability,
  type PtyRequest,
  type PtySession,
  type RuntimeDriver,
} from '../../common/driver.js';
import { RuntimeErrors } from '../../common/errors.js';
import { execOciStream, openOciPty, type OciExecTarget } from './pty-exec.js';
import { RfbSession } from '../rfb/rfb-client.js';
import {
  DESKTOP_GEOMETRY,
  VNC_SOCKET_NAME,
  WM_READY_NAME,
  appLaunchFor,
  desktopInitScript,
} from './desktop.js';
import { OciCli, SHIM_FILES, type OciRuntimeName } from './oci-cli.js';
import {
  UsernsAllocator,
  ensureMountTargets,
  usernsUnavailableReason,
  type UsernsLease,
} from './userns.js';

/** Prefix of every container, bundle and cgroup the driver creates (doctor looks for it). */
export const CONTAINER_PREFIX = 'virtos-';
/** Parent cgroup (under each controller's root) of every environment. */
export const CGROUP_PARENT = 'virtos-rt';
/** Default state directory: on /run, i.e. in RAM. */
export const DEFAULT_STATE_DIR = '/run/virtos/runtime';

/**
 * Why runsc cannot host desktops here (measured with runsc 20221219): with `--host-uds=create` the
 * VNC socket is created on the host, but gVisor refuses the chmod Xvnc performs on it ("vncExtInit:
 * unable to set socket mode: Operation not permitted"), so Xvnc exits.
 */
export const RUNSC_DESKTOP_REASON =
  'runsc (gVisor 20221219) cannot host the VNC socket: Xvnc fails with "unable to set socket mode: Operation not permitted" on a host Unix socket';

/** Options of the oci driver. */
export interface OciDriverOptions {
  readonly runtime: OciRuntimeName;
  /** Absolute path of the runtime binary. */
  readonly binary: string;
  /** Where bundles, VNC directories and the runtime's state live; default {@link DEFAULT_STATE_DIR}. */
  readonly stateDir?: string;
  /**
   * Give each environment its own user namespace (a private range of host ids) where the runtime
   * and host allow it and the root is read-only; default true. See userns.ts.
   */
  readonly userNamespaces?: boolean;
  /** Where per-environment user-namespace directories live; default `/run/virtos-userns`. */
  readonly usernsDir?: string;
}

interface OciEnv {
  readonly id: string;
  readonly name: string;
  readonly bundle: string;
  readonly vncDir: string | undefined;
  readonly config: OciConfig;
  readonly networkNone: boolean;
  state: 'created' | 'started' | 'stopped';
  /** The shim's pid and start time (to tell it from a reused pid), once started. */
  shim?: ProcId | undefined;
  /** The container's first process, once the runtime wrote the pid file. */
  proc?: ProcId | undefined;
  exitStatus?: ExitStatus;
}

/** A process identity: pid plus its start time in clock ticks since boot (pids are reused). */
interface ProcId {
  readonly pid: number;
  readonly start: string;
}

/** What the driver keeps in a bundle beside config.json, so a new daemon process can adopt it. */
interface BundleMeta {
  readonly v: 1;
  readonly id: string;
  readonly runtime: OciRuntimeName;
  readonly vncDir?: string;
  readonly networkNone: boolean;
  shim?: ProcId;
  /**
   * The container's first process as first seen alive, so a later reader (a new daemon) tells it
   * from a process that reused its pid after it ended.
   */
  proc?: ProcId;
}

const META_FILE = 'virtos.json';

/**
 * How long a status waits for the shim's exit record once the container's first process is gone
 * while the shim still runs (it writes the record right after the runtime returns), ms.
 */
const EXIT_RECORD_WAIT_MS = 2000;

/** The start time of a live process (field 22 of /proc/<pid>/stat), or undefined if it is gone. */
function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    if (state === 'Z' || state === 'X') return undefined;
    return rest[19];
  } catch {
    return undefined;
  }
}

function isAlive(p: ProcId | undefined): boolean {
  return p !== undefined && procStart(p.pid) === p.start;
}

const KIND: Record<OciRuntimeName, KnownDriverKind> = {
  crun: DRIVER_KINDS.crun,
  runc: DRIVER_KINDS.runc,
  runsc: DRIVER_KINDS.runsc,
};

/** The host's hard RLIMIT_NOFILE (a runtime cannot raise it), capped at 65536. */
function hostNofileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const hard = Number(line?.trim().split(/\s+/)[4]);
    return Number.isFinite(hard) ? Math.min(hard, 65536) : 4096;
  } catch {
    return 4096;
  }
}

/** Resolves when `file` exists (watching its directory), or rejects when `signal` fires first. */
function whenExists(file: string, dir: string, signal: AbortSignal): Promise<void> {
  return whenAnyExists([file], dir, signal);
}

/** Resolves when one of `files` (all in `dir`) exists, or rejects when `signal` fires first. */
function whenAnyExists(files: readonly string[], dir: string, signal: AbortSignal): Promise<void> {
  const any = (): boolean => files.some((f) => existsSync(f));
  return new Promise((resolve, reject) => {
    if (any()) return resolve();
    if (signal.aborted) {
      return reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    }
    const w = watch(dir, () => {
      if (any()) done();
    });
    w.on('error', () => undefined);
    const timer = setInterval(() => {
      if (any()) done();
    }, 25);
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const cleanup = (): void => {
      w.close();
      clearInterval(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const done = (): void => {
      cleanup();
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (any()) done();
  });
}

/** The OCI driver (`oci.crun/v1`, `oci.runc/v1`, `oci.runsc/v1`). */
export class OciDriver
  implements
    RuntimeDriver,
    PauseCapability,
    ExecCapability,
    ExecStreamCapability,
    PtyCapability,
    DisplayCapability
{
  readonly kind: KnownDriverKind;
  readonly capabilities: ReadonlySet<DriverCapability> = new Set<DriverCapability>([
    'pause',
    'exec',
    'exec-stream',
    'pty',
    'display',
  ]);
  /** The runtime CLI client (exposed for tests and doctor). */
  readonly cli: OciCli;
  readonly stateDir: string;
  private readonly envs = new Map<string, OciEnv>();
  private readonly nofile = hostNofileLimit();
  private freezerFiles: readonly { root: string; file: string }[] | undefined;
  /** Id ranges and root binds for user namespaces; undefined when they are off (see reason). */
  private readonly userns: UsernsAllocator | undefined;
  /** Why environments of this driver get no user namespace, or undefined when they do. */
  readonly usernsOffReason: string | undefined;
  /** The user-namespace directory in use, or undefined when user namespaces are off. */
  get usernsDir(): string | undefined {
    return this.userns?.dir;
  }

  constructor(readonly options: OciDriverOptions) {
    this.kind = KIND[options.runtime];
    this.stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
    this.cli = new OciCli({
      runtime: options.runtime,
      binary: options.binary,
      root: join(this.stateDir, options.runtime),
    });
    this.usernsOffReason =
      options.userNamespaces === false
        ? 'turned off in the driver options'
        : usernsUnavailableReason(options.runtime);
    this.userns =
      this.usernsOffReason === undefined ? new UsernsAllocator(options.usernsDir) : undefined;
  }

  /** The container name of an environment id. */
  containerName(id: string): string {
    return `${CONTAINER_PREFIX}${id}`;
  }

  /** The cgroup path (relative to each controller's root) of an environment id. */
  cgroupPath(id: string): string {
    return `/${CGROUP_PARENT}/${this.containerName(id)}`;
  }

  private bundleOf(id: string): string {
    return join(this.stateDir, 'bundles', this.containerName(id));
  }

  /**
   * The environment of `id`: from memory, or adopted from its bundle when an earlier daemon
   * process of this runtime made it (config.json + virtos.json + the shim's files say everything).
   */
  private find(id: string): OciEnv | undefined {
    const known = this.envs.get(id);
    if (known) return known;
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(id)) return undefined;
    const bundle = this.bundleOf(id);
    let meta: BundleMeta;
    let config: OciConfig;
    try {
      meta = JSON.parse(readFileSync(join(bundle, META_FILE), 'utf8')) as BundleMeta;
      config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as OciConfig;
    } catch {
      return undefined;
    }
    if (meta.v !== 1 || meta.id !== id || meta.runtime !== this.options.runtime) return undefined;
    const started = meta.shim !== undefined || existsSync(join(bundle, SHIM_FILES.pid));
    const env: OciEnv = {
      id,
      name: this.containerName(id),
      bundle,
      vncDir: meta.vncDir,
      config,
      networkNone: meta.networkNone,
      state: started ? 'started' : 'created',
      shim: meta.shim,
      proc: meta.proc,
    };
    if (started) this.readProc(env);
    this.envs.set(id, env);
    return env;
  }

  /**
   * The container's first process: its identity is read from the pid file once, while it lives,
   * and kept in virtos.json (a new daemon compares against it; pids are reused). Undefined while
   * the pid file is missing or not fully written, or when the process ended before it was read.
   */
  private readProc(env: OciEnv): ProcId | undefined {
    if (env.proc) return env.proc;
    const pid = this.pidFromFile(env);
    const start = pid !== undefined ? procStart(pid) : undefined;
    if (pid !== undefined && start !== undefined) {
      env.proc = { pid, start };
      this.saveMeta(env);
    }
    return env.proc;
  }

  /** The pid the runtime wrote, or undefined while its file is missing or not fully written. */
  private pidFromFile(env: OciEnv): number | undefined {
    try {
      const pid = Number(readFileSync(join(env.bundle, SHIM_FILES.pid), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** The exit status the shim recorded, once the runtime has ended. */
  private readExit(env: OciEnv): ExitStatus | undefined {
    if (env.exitStatus) return env.exitStatus;
    for (const f of [SHIM_FILES.exit, `${SHIM_FILES.exit}.tmp`]) {
      try {
        const text = readFileSync(join(env.bundle, f), 'utf8').trim();
        // exit.tmp may be half-written while the shim still runs; only trust it once it is gone.
        if (f !== SHIM_FILES.exit && (text === '' || isAlive(env.shim))) continue;
        const code = Number(text);
        if (text !== '' && Number.isInteger(code)) {
          env.exitStatus = { exitCode: code };
          env.state = 'stopped';
          return env.exitStatus;
        }
      } catch {
        // not ended (or no shim file yet)
      }
    }
    return undefined;
  }

  /** The last output of the container and the runtime (written by the shim when it ends). */
  private output(env: OciEnv): string {
    try {
      return readFileSync(join(env.bundle, SHIM_FILES.log), 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  private get(id: string): OciEnv {
    const env = this.find(id);
    if (!env) {
      throw RuntimeErrors.create('not_found', `No environment ${id} in ${this.kind}.`, {
        subject: id,
        hint: 'List environments with the driver, or run `virtos doctor --cleanup` for leftovers.',
      });
    }
    return env;
  }

  async create(ctx: DriverContext, req: CreateRequest): Promise<EnvironmentStatus> {
    throwIfAborted(ctx.signal, 'create');
    assertEnvironmentId(req.id);
    const name = this.containerName(req.id);
    const bundle = this.bundleOf(req.id);
    if (this.envs.has(req.id) || existsSync(bundle)) {
      throw RuntimeErrors.create('already_exists', `Environment ${req.id} already exists.`, {
        subject: req.id,
      });
    }
    const desktop = req.spec.display === 'desktop';
    if (desktop && this.options.runtime === 'runsc') {
      throw RuntimeErrors.create('unavailable', RUNSC_DESKTOP_REASON, {
        subject: req.id,
        hint: 'Use crun or runc for desktops; runsc runs headless and terminal environments.',
      });
    }
    const vncDir = desktop ? join(this.stateDir, 'vnc', name) : undefined;
    const user = req.process?.user ?? { uid: DESKTOP_USER.uid, gid: DESKTOP_USER.gid };
    const apps = req.apps ?? (req.spec.apps ?? []).map((a) => appLaunchFor(a.id));
    const args =
      req.process?.args ?? (desktop ? ['/bin/sh', '-c', desktopInitScript(apps)] : ['/bin/sh']);
    // SECURITY: with a user namespace, root inside is an unprivileged host id of a range no other
    // environment or host account uses. A writable root keeps the host's ids: its lower layers are
    // owned by host root, which the namespace could not write (docs/sandbox.md).
    const lease: UsernsLease | undefined =
      this.userns && req.spec.security.readOnlyRoot
        ? await this.userns.acquire(name, req.rootfs)
        : undefined;
    let config: OciConfig;
    try {
      config = buildOciConfig({
        security: req.spec.security,
        resources: req.spec.resources,
        display: req.spec.display,
        rootfsPath: lease?.rootfsPath ?? req.rootfs,
        ...(lease && { userNamespace: { hostId: lease.hostId, size: lease.size } }),
        args,
        env: {
          ...(desktop ? { DISPLAY: ':1' } : {}),
          ...(req.process?.env ?? {}),
        },
        user,
        hostname: req.spec.name ?? 'virtos',
        ...(vncDir !== undefined && { vncDir }),
        ...(req.netnsPath !== undefined && { netnsPath: req.netnsPath }),
        ...(req.mounts !== undefined && { mounts: req.mounts }),
        cgroupsPath: this.cgroupPath(req.id),
        ...(req.pidsLimit !== undefined && { pidsLimit: req.pidsLimit }),
        nofileLimit: this.nofile,
        annotations: { 'org.virtos.environment': req.id, 'org.virtos.driver': this.kind },
      });
    } catch (e) {
      if (lease) await this.userns?.release(name);
      throw e;
    }
    try {
      // SECURITY: state directories are root-only (0700); bundles hold configs, not user data.
      await mkdir(join(this.stateDir, 'bundles'), { recursive: true, mode: 0o700 });
      await chmod(this.stateDir, 0o700);
      await mkdir(bundle, { mode: 0o700 });
      await writeFile(join(bundle, 'config.json'), JSON.stringify(config));
      const meta: BundleMeta = {
        v: 1,
        id: req.id,
        runtime: this.options.runtime,
        ...(vncDir !== undefined && { vncDir }),
        networkNone: req.netnsPath === undefined,
      };
      await writeFile(join(bundle, META_FILE), JSON.stringify(meta), { mode: 0o600 });
      if (vncDir !== undefined) {
        await mkdir(join(this.stateDir, 'vnc'), { recursive: true, mode: 0o700 });
        await mkdir(vncDir, { mode: 0o700 });
        // SECURITY: the per-environment VNC directory is owned by the sandbox user so Xvnc can
        // create its socket; it is empty and holds nothing of the host.
        chownSync(
          vncDir,
          lease?.hostIdOf(user.uid) ?? user.uid,
          lease?.hostIdOf(user.gid) ?? user.gid,
        );
      }
      if (lease) await ensureMountTargets(lease.rootfsPath, config.mounts);
      throwIfAborted(ctx.signal, 'create');
    } catch (e) {
      await rm(bundle, { recursive: true, force: true });
      await this.userns?.release(name).catch(() => undefined);
      if (vncDir !== undefined) await rm(vncDir, { recursive: true, force: true });
      throw e;
    }
    const env: OciEnv = {
      id: req.id,
      name,
      bundle,
      vncDir,
      config,
      networkNone: req.netnsPath === undefined,
      state: 'created',
    };
    this.envs.set(req.id, env);
    return { id: req.id, state: 'created' };
  }

  async start(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    throwIfAborted(ctx.signal, 'start');
    const env = this.get(id);
    assertOperation(id, await this.observedState(ctx, env), 'start');
    const pidFile = join(env.bundle, SHIM_FILES.pid);
    const exitFile = join(env.bundle, SHIM_FILES.exit);
    env.state = 'started';
    const shimPid = this.cli.spawnDetachedRun(env.bundle, env.name, {
      networkNone: env.networkNone,
      hostUds: env.vncDir !== undefined,
    });
    const shimStart = shimPid !== undefined ? procStart(shimPid) : undefined;
    if (shimPid !== undefined && shimStart !== undefined) {
      env.shim = { pid: shimPid, start: shimStart };
      await this.writeMeta(env);
    }
    // Started = the runtime wrote the pid file (namespaces, cgroups and mounts are in place);
    // failed = the shim recorded the runtime's exit first.
    try {
      await whenAnyExists([pidFile, exitFile], env.bundle, ctx.signal);
    } catch {
      await this.delete({ signal: new AbortController().signal }, id);
      throwIfAborted(ctx.signal, 'start');
    }
    if (!existsSync(pidFile)) {
      const st = this.readExit(env) ?? (await this.waitExit(env, AbortSignal.timeout(5000)));
      throw RuntimeErrors.create(
        'failed',
        `Failed to start environment ${id} with ${this.options.runtime} (exit ${st?.exitCode ?? 'unknown'}): ${this.output(env).trim()}`,
        { subject: id, hint: 'Run `virtos doctor` to check the runtime on this host.' },
      );
    }
    // The runtime may not have finished writing the pid file yet: the first process's identity is
    // read (and kept in virtos.json) as soon as its pid is there.
    for (let i = 0; i < 200 && this.pidFromFile(env) === undefined && !this.readExit(env); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    this.readProc(env);
    return this.status(ctx, id);
  }

  private metaOf(env: OciEnv): BundleMeta {
    return {
      v: 1,
      id: env.id,
      runtime: this.options.runtime,
      ...(env.vncDir !== undefined && { vncDir: env.vncDir }),
      networkNone: env.networkNone,
      ...(env.shim && { shim: env.shim }),
      ...(env.proc && { proc: env.proc }),
    };
  }

  private async writeMeta(env: OciEnv): Promise<void> {
    await writeFile(join(env.bundle, META_FILE), JSON.stringify(this.metaOf(env)), { mode: 0o600 });
  }

  /** Synchronous {@link writeMeta} for readers; a bundle removed meanwhile is not an error. */
  private saveMeta(env: OciEnv): void {
    try {
      writeFileSync(join(env.bundle, META_FILE), JSON.stringify(this.metaOf(env)), {
        mode: 0o600,
      });
    } catch {
      // deleted meanwhile: nothing to keep
    }
  }

  /**
   * Resolves with the exit status once the shim recorded it; when the shim is gone without a
   * record (killed with its environment), once the container's first process is gone too, with
   * 137 (the code is not knowable). Watches the bundle and checks every 100 ms; undefined when
   * `signal` aborts first.
   */
  private async waitExit(env: OciEnv, signal: AbortSignal): Promise<ExitStatus | undefined> {
    const exitFile = join(env.bundle, SHIM_FILES.exit);
    for (;;) {
      const st = this.readExit(env);
      if (st) return st;
      if (env.state === 'started' && !isAlive(env.shim) && !isAlive(this.readProc(env))) {
        if (this.readExit(env)) continue;
        env.exitStatus = { exitCode: 137 };
        env.state = 'stopped';
        return env.exitStatus;
      }
      if (signal.aborted) return undefined;
      try {
        await whenAnyExists(
          [exitFile],
          env.bundle,
          AbortSignal.any([signal, AbortSignal.timeout(100)]),
        );
      } catch {
        // timeout or abort: check again
      }
    }
  }

  /**
   * The state. paused/running is read from the kernel's freezer (one small file read) where the
   * runtime uses the cgroup freezer (crun, runc); runsc pauses inside its sandbox, so it is asked.
   * Spawning the runtime's `state` costs ~8 ms, which used to double every pause and resume.
   */
  private async observedState(ctx: DriverContext, env: OciEnv): Promise<EnvironmentState> {
    if (env.state === 'created') return 'created';
    if (env.state === 'stopped' || this.readExit(env)) return 'stopped';
    // Not ended by the shim's record. The container's first process decides: once the runtime
    // wrote its pid file, a first process that is not alive (also one that died before it was
    // ever read) means the environment ended, whatever a leftover cgroup or the runtime's state
    // directory still say. Without a pid file, a shim that is gone means nothing runs either.
    if (env.proc !== undefined || this.pidFromFile(env) !== undefined) {
      if (!isAlive(this.readProc(env))) return this.ended(ctx, env);
    } else if (!isAlive(env.shim)) {
      return this.ended(ctx, env);
    }
    const frozen = this.options.runtime === 'runsc' ? undefined : this.freezerState(env);
    if (frozen !== undefined) return frozen ? 'paused' : 'running';
    const st = await this.cli.state(ctx.signal, env.name);
    if (this.readExit(env)) return 'stopped';
    // A runtime that does not know the container, or says it stopped, never reads as running.
    if (st === undefined || st.status === 'stopped') return this.ended(ctx, env);
    if (st.status === 'paused') return 'paused';
    return 'running';
  }

  /**
   * The environment's processes are gone: stopped. A shim that still runs writes the exit code in
   * a moment, so it is waited for briefly; a shim that is gone too will never write it (137, the
   * code is not knowable).
   */
  private async ended(ctx: DriverContext, env: OciEnv): Promise<'stopped'> {
    if (isAlive(env.shim)) {
      await this.waitExit(
        env,
        AbortSignal.any([ctx.signal, AbortSignal.timeout(EXIT_RECORD_WAIT_MS)]),
      );
    } else if (!this.readExit(env)) {
      env.exitStatus = { exitCode: 137 };
      env.state = 'stopped';
    }
    return 'stopped';
  }

  /** True when the environment's freezer cgroup is frozen (or freezing); undefined if unreadable. */
  private freezerState(env: OciEnv): boolean | undefined {
    this.freezerFiles ??= freezerFiles();
    for (const f of this.freezerFiles) {
      try {
        const v = readFileSync(join(f.root, CGROUP_PARENT, env.name, f.file), 'utf8').trim();
        return f.file === 'freezer.state' ? v !== 'THAWED' : v === '1';
      } catch {
        // not this hierarchy
      }
    }
    return undefined;
  }

  async status(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    throwIfAborted(ctx.signal, 'status');
    const env = this.get(id);
    const state = await this.observedState(ctx, env);
    const pid = state === 'running' || state === 'paused' ? this.readProc(env)?.pid : undefined;
    return {
      id,
      state,
      ...(pid !== undefined && { pid }),
      ...(env.exitStatus && { exitCode: env.exitStatus.exitCode }),
    };
  }

  async pause(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    const env = this.get(id);
    assertOperation(id, await this.observedState(ctx, env), 'pause');
    // Freezes every process of the environment through the cgroup freezer.
    await this.cli.check(ctx.signal, ['pause', env.name], id);
    return { id, state: 'paused' };
  }

  async resume(ctx: DriverContext, id: string): Promise<EnvironmentStatus> {
    const env = this.get(id);
    assertOperation(id, await this.observedState(ctx, env), 'resume');
    await this.cli.check(ctx.signal, ['resume', env.name], id);
    return { id, state: 'running' };
  }

  async stop(
    ctx: DriverContext,
    id: string,
    options: { readonly graceMs?: number } = {},
  ): Promise<ExitStatus> {
    throwIfAborted(ctx.signal, 'stop');
    const env = this.get(id);
    if (env.state === 'created') {
      env.state = 'stopped';
      env.exitStatus = { exitCode: 0 };
      return env.exitStatus;
    }
    const ended = this.readExit(env);
    if (ended) return ended;
    // Frozen processes cannot act on signals: thaw first.
    if ((await this.cli.state(ctx.signal, env.name))?.status === 'paused') {
      await this.cli.run(ctx.signal, ['resume', env.name]);
    }
    await this.cli.run(ctx.signal, ['kill', env.name, 'TERM']);
    const grace = options.graceMs ?? 2000;
    const first = await this.waitExit(
      env,
      AbortSignal.any([ctx.signal, AbortSignal.timeout(grace)]),
    );
    if (first) return first;
    throwIfAborted(ctx.signal, 'stop');
    const all = this.options.runtime === 'runsc' ? [] : ['--all'];
    await this.cli.run(ctx.signal, ['kill', ...all, env.name, 'KILL']);
    const st = await this.waitExit(env, ctx.signal);
    throwIfAborted(ctx.signal, 'stop');
    return st ?? { exitCode: 137 };
  }

  async delete(ctx: DriverContext, id: string): Promise<void> {
    throwIfAborted(ctx.signal, 'delete');
    const env = this.find(id);
    const name = this.containerName(id);
    // A bundle of another runtime (drivers share the bundles directory) is not this driver's.
    if (!env && this.bundleRuntime(id) !== undefined) return;
    if (env && env.state === 'started' && !this.readExit(env)) {
      await this.stop(ctx, id, { graceMs: 0 }).catch(() => undefined);
      if (!this.readExit(env)) {
        await this.cli.run(ctx.signal, ['kill', name, 'KILL']);
        await this.waitExit(env, AbortSignal.any([ctx.signal, AbortSignal.timeout(10_000)]));
      }
    }
    // `run` deletes the container when it exits; a forced delete covers crashes and foreign runs.
    if (await this.cli.state(ctx.signal, name)) {
      await this.cli.run(ctx.signal, ['delete', '--force', name]);
    }
    await rm(this.bundleOf(id), { recursive: true, force: true, maxRetries: 3 });
    await rm(join(this.stateDir, 'vnc', name), { recursive: true, force: true });
    await removeCgroups(this.cgroupPath(id));
    await this.userns?.release(name);
    this.envs.delete(id);
  }

  /** The runtime named in a bundle's virtos.json (undefined without one or for this runtime). */
  private bundleRuntime(id: string): OciRuntimeName | undefined {
    try {
      const meta = JSON.parse(
        readFileSync(join(this.bundleOf(id), META_FILE), 'utf8'),
      ) as BundleMeta;
      return meta.runtime === this.options.runtime ? undefined : meta.runtime;
    } catch {
      return undefined;
    }
  }

  async wait(ctx: DriverContext, id: string): Promise<ExitStatus> {
    throwIfAborted(ctx.signal, 'wait');
    const env = this.get(id);
    // Created but not started: wait until it is started (or deleted) and ends.
    while (env.state === 'created') {
      await new Promise((r) => setTimeout(r, 20));
      throwIfAborted(ctx.signal, 'wait');
    }
    const st = await this.waitExit(env, ctx.signal);
    throwIfAborted(ctx.signal, 'wait');
    return st ?? { exitCode: 137 };
  }

  /** Ids of this runtime's environments: in memory and in bundles left by earlier processes. */
  async list(ctx: DriverContext): Promise<readonly string[]> {
    throwIfAborted(ctx.signal, 'list');
    const ids = new Set(this.envs.keys());
    let names: string[] = [];
    try {
      names = readdirSync(join(this.stateDir, 'bundles'));
    } catch {
      // no bundles yet
    }
    for (const n of names) {
      if (!n.startsWith(CONTAINER_PREFIX)) continue;
      const id = n.slice(CONTAINER_PREFIX.length);
      if (!ids.has(id) && this.find(id)) ids.add(id);
    }
    return [...ids];
  }

  async exec(ctx: DriverContext, id: string, req: ExecRequest): Promise<ExecResult> {
    const env = this.get(id);
    assertOperation(id, await this.observedState(ctx, env), 'exec');
    const base = env.config.process;
    // The same policy as the first process: same capabilities, rlimits, noNewPrivileges; the
    // runtime applies the container's seccomp filter and namespaces to every exec.
    const user = req.user ?? base.user;
    const proc = {
      ...base,
      user,
      args: [...req.args],
      env: [...base.env, ...Object.entries(req.env ?? {}).map(([k, v]) => `${k}=${v}`)],
      cwd: user.uid === 0 ? '/' : DESKTOP_USER.home,
      capabilities: user.uid === 0 ? { ...base.capabilities, ambient: [] } : base.capabilities,
    };
    const file = join(env.bundle, `exec-${randomBytes(6).toString('hex')}.json`);
    await writeFile(file, JSON.stringify(proc));
    try {
      const r = await this.cli.run(ctx.signal, [
        'exec',
        '--process',
        file,
        ...(req.detach ? ['--detach'] : []),
        env.name,
      ]);
      return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr };
    } finally {
      await rm(file, { force: true });
    }
  }

  /** A running environment as the exec helpers of pty-exec.ts see it. */
  private async execTarget(ctx: DriverContext, id: string): Promise<OciExecTarget> {
    const env = this.get(id);
    assertOperation(id, await this.observedState(ctx, env), 'exec');
    return { cli: this.cli, container: env.name, bundle: env.bundle, base: env.config.process };
  }

  async execStream(
    ctx: DriverContext,
    id: string,
    req: ExecRequest,
    sink: ExecOutputSink,
  ): Promise<ExecStreamResult> {
    return execOciStream(ctx.signal, await this.execTarget(ctx, id), req, sink);
  }

  async openPty(ctx: DriverContext, id: string, req: PtyRequest): Promise<PtySession> {
    return openOciPty(ctx.signal, await this.execTarget(ctx, id), req);
  }

  async display(
    ctx: DriverContext,
    id: string,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<DisplayEndpoint> {
    const env = this.get(id);
    assertOperation(id, await this.observedState(ctx, env), 'display');
    if (env.vncDir === undefined) {
      throw RuntimeErrors.create('invalid_request', `Environment ${id} has no desktop display.`, {
        subject: id,
        hint: 'Only environments with display "desktop" have a VNC endpoint.',
      });
    }
    const vncDir = env.vncDir;
    const socketPath = join(vncDir, VNC_SOCKET_NAME);
    const timeoutMs = options.timeoutMs ?? 15_000;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([ctx.signal, deadline]);
    try {
      // 1. The RFB server answers a real handshake (ProtocolVersion, security, ServerInit).
      for (;;) {
        await whenExists(socketPath, vncDir, signal);
        try {
          const s = await RfbSession.connect(socketPath, signal);
          s.close();
          break;
        } catch (e) {
          if (signal.aborted) throw e;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      // 2. The window manager announced itself (checked inside by xprop, marker written after).
      await whenExists(join(vncDir, WM_READY_NAME), vncDir, signal);
    } catch (e) {
      throwIfAborted(ctx.signal, 'display');
      const ended = this.readExit(env);
      if (deadline.aborted || ended) {
        throw RuntimeErrors.create(
          'display_timeout',
          ended
            ? `Desktop of ${id} exited (${ended.exitCode}) before its display was ready: ${this.output(env).trim()}`
            : `Desktop of ${id} not ready after ${timeoutMs} ms.`,
          {
            subject: id,
            hint: 'Check that the image has Xvnc, openbox and xprop (desktop layer).',
          },
        );
      }
      throw e;
    }
    return { protocol: 'rfb', socketPath, ...DESKTOP_GEOMETRY };
  }
}

/**
 * Where the freezer state of an environment can be read: the v1 freezer hierarchy's
 * `freezer.state` (THAWED, FREEZING, FROZEN), else cgroup2's `cgroup.freeze` (0 or 1).
 */
function freezerFiles(): { root: string; file: string }[] {
  const out: { root: string; file: string }[] = [];
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const parts = line.split(' ');
      const sep = parts.indexOf('-');
      const fstype = parts[sep + 1];
      const opts = (parts[sep + 3] ?? '').split(',');
      if (fstype === 'cgroup' && opts.includes('freezer')) {
        out.unshift({ root: parts[4] as string, file: 'freezer.state' });
      } else if (fstype === 'cgroup2') {
        out.push({ root: parts[4] as string, file: 'cgroup.freeze' });
      }
    }
  } catch {
    // No /proc: the runtime is asked instead.
  }
  return out;
}

/** cgroup v1 controller roots and the v2 root on this host. */
export function cgroupRoots(): string[] {
  const roots: string[] = [];
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const parts = line.split(' ');
      const sep = parts.indexOf('-');
      const fstype = parts[sep + 1];
      if (fstype === 'cgroup' || fstype === 'cgroup2') roots.push(parts[4] as string);
    }
  } catch {
    // No /proc: no cgroups to look at.
  }
  return roots;
}

/** Removes an environment's (empty) cgroup directories under every controller. */
export async function removeCgroups(relPath: string): Promise<void> {
  for (const root of cgroupRoots()) {
    const dir = join(root, relPath);
    if (!existsSync(dir)) continue;
    // SECURITY: rmdir only succeeds on cgroups without processes; never recursive file removal.
    await rmdir(dir).catch(() => undefined);
  }
}
