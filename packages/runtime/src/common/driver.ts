/**
 * The RuntimeDriver interface: what the orchestrator may ask of any runtime (OCI containers, later
 * QEMU and Kubernetes). Every call takes a {@link DriverContext} with an AbortSignal. Optional
 * abilities (pause, display, exec, snapshot) are capabilities checked with type guards, never methods
 * that throw "unsupported".
 */
import type { Event } from '@virtos/core';
import type { EnvironmentSpec } from '@virtos/spec';
import { RuntimeErrors } from './errors.js';

/** A namespaced, versioned driver kind: `<family>[.<variant>]/v<major>`. */
export type DriverKind = `${string}/v${number}`;

/** The driver kinds this package provides. */
export const DRIVER_KINDS = {
  crun: 'oci.crun/v1',
  runc: 'oci.runc/v1',
  runsc: 'oci.runsc/v1',
  fake: 'fake/v1',
} as const satisfies Record<string, DriverKind>;

/** One of {@link DRIVER_KINDS}. */
export type KnownDriverKind = (typeof DRIVER_KINDS)[keyof typeof DRIVER_KINDS];

/** True when `kind` has the `<family>/v<n>` shape. */
export function isDriverKind(kind: string): kind is DriverKind {
  return /^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*\/v[1-9][0-9]*$/.test(kind);
}

/** Passed to every driver call. Aborting cancels the call (never the environment by itself). */
export interface DriverContext {
  readonly signal: AbortSignal;
}

/** The lifecycle states a driver reports. */
export type EnvironmentState = 'created' | 'running' | 'paused' | 'stopped';

/** What a driver observes about one environment. */
export interface EnvironmentStatus {
  readonly id: string;
  readonly state: EnvironmentState;
  /** The host pid of the environment's first process while it runs. */
  readonly pid?: number;
  /** Exit code once stopped (128 + signal number when killed by a signal). */
  readonly exitCode?: number;
}

/** How an environment's process ended. */
export interface ExitStatus {
  /** Exit code; 128 + n when killed by signal n (137 = SIGKILL, e.g. the OOM killer). */
  readonly exitCode: number;
}

/** The program an environment runs (overrides the display's default). */
export interface ProcessRequest {
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Defaults to the unprivileged user 1000. */
  readonly user?: { readonly uid: number; readonly gid: number };
}

/** A program started on a desktop once its window manager is ready. */
export interface AppLaunch {
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** Parts of the spec a driver reads. */
export type DriverSpec = Pick<EnvironmentSpec, 'display' | 'security' | 'resources'> &
  Partial<Pick<EnvironmentSpec, 'name' | 'apps'>>;

/** Everything needed to create an environment. */
export interface CreateRequest {
  /** Unique on this host: 1-63 of [a-z0-9_-], starting with a letter or digit. */
  readonly id: string;
  readonly spec: DriverSpec;
  /** The mounted root filesystem (host path), e.g. from the images package. */
  readonly rootfs: string;
  /** A network namespace prepared by the network manager; without it a fresh, empty one. */
  readonly netnsPath?: string;
  /**
   * Host files or directories to bind into the sandbox (read-only unless `readOnly: false`), e.g.
   * the network manager's resolv.conf and hosts files.
   */
  readonly mounts?: readonly {
    readonly source: string;
    readonly destination: string;
    readonly readOnly?: boolean;
  }[];
  /** The first process; for desktops the driver's display init is used when absent. */
  readonly process?: ProcessRequest;
  /** Desktop apps to start once the window manager is ready. */
  readonly apps?: readonly AppLaunch[];
  /** pids.max override. */
  readonly pidsLimit?: number;
}

/** The core operations every driver has. */
export interface RuntimeDriver {
  /** Namespaced, versioned kind, e.g. `oci.crun/v1`. */
  readonly kind: DriverKind;
  /** Optional abilities this driver instance has; use the type guards below to call them. */
  readonly capabilities: ReadonlySet<DriverCapability>;
  /** Prepares the environment without running it. Fails with `already_exists` for a known id. */
  create(ctx: DriverContext, req: CreateRequest): Promise<EnvironmentStatus>;
  /** Runs a created environment. */
  start(ctx: DriverContext, id: string): Promise<EnvironmentStatus>;
  /** Stops the environment: SIGTERM, then SIGKILL after `graceMs` (default 2000 ms). Idempotent. */
  stop(
    ctx: DriverContext,
    id: string,
    options?: { readonly graceMs?: number },
  ): Promise<ExitStatus>;
  /** Removes every trace of the environment (stopping it first). Idempotent for unknown ids. */
  delete(ctx: DriverContext, id: string): Promise<void>;
  /** Re-reads the truth about one environment. `not_found` for unknown ids. */
  status(ctx: DriverContext, id: string): Promise<EnvironmentStatus>;
  /** Resolves when the environment's process has exited. Aborting only stops the waiting. */
  wait(ctx: DriverContext, id: string): Promise<ExitStatus>;
  /** The ids of environments this driver instance knows. */
  list(ctx: DriverContext): Promise<readonly string[]>;
}

/** Optional abilities. */
export type DriverCapability = 'pause' | 'display' | 'exec' | 'exec-stream' | 'pty' | 'snapshot';

/** Freezing and thawing every process of an environment (cgroup freezer). */
export interface PauseCapability {
  pause(ctx: DriverContext, id: string): Promise<EnvironmentStatus>;
  resume(ctx: DriverContext, id: string): Promise<EnvironmentStatus>;
}

/** Where a desktop's display can be reached; the gateway connects here. */
export interface DisplayEndpoint {
  readonly protocol: 'rfb';
  /** Host path of the VNC Unix socket. */
  readonly socketPath: string;
  readonly width: number;
  readonly height: number;
}

/** A desktop display: resolves once the RFB server and the window manager are ready. */
export interface DisplayCapability {
  display(
    ctx: DriverContext,
    id: string,
    options?: { readonly timeoutMs?: number },
  ): Promise<DisplayEndpoint>;
}

/** A command run inside a running environment, under the same policy. */
export interface ExecRequest {
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Defaults to the environment's user (1000). */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** Don't wait for the command; resolves once it was started. */
  readonly detach?: boolean;
}

/** What an exec produced. Output is capped at 1 MiB per stream. */
export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Running extra commands inside an environment. */
export interface ExecCapability {
  exec(ctx: DriverContext, id: string, req: ExecRequest): Promise<ExecResult>;
}

/** Where a streamed exec delivers its output, chunk by chunk, as the command writes it. */
export interface ExecOutputSink {
  onStdout?(chunk: Uint8Array): void;
  onStderr?(chunk: Uint8Array): void;
}

/** How a streamed exec ended. */
export interface ExecStreamResult {
  readonly exitCode: number;
  /** True when a stream wrote more than the cap (1 MiB each) and the rest was dropped. */
  readonly truncated: boolean;
}

/** Running a command inside an environment with its output delivered as it comes (no TTY). */
export interface ExecStreamCapability {
  /**
   * Runs `req` (its `detach` is ignored) and calls `sink` for every chunk of stdout and stderr as
   * it arrives, at most 1 MiB per stream; resolves with the exit code. Aborting kills the command.
   */
  execStream(
    ctx: DriverContext,
    id: string,
    req: ExecRequest,
    sink: ExecOutputSink,
  ): Promise<ExecStreamResult>;
}

/** An interactive program on a pseudo-terminal inside an environment. */
export interface PtyRequest {
  /** The program; default: the environment's login shell (bash when present, else sh). */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Defaults to the environment's user (1000). */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** Initial terminal size (columns and rows, 1..1000). */
  readonly cols: number;
  readonly rows: number;
}

/** A program running on a pseudo-terminal inside an environment. */
export interface PtySession {
  /** Terminal output bytes as the program writes them. */
  readonly onData: Event<Uint8Array>;
  /** Resolves when the program ended (128 + n when killed by signal n). */
  readonly exit: Promise<ExitStatus>;
  /** Sends input bytes (keystrokes) to the terminal. */
  write(data: Uint8Array | string): void;
  /**
   * Sets the terminal's window size (the program gets SIGWINCH). Resolves once applied, so input
   * written after it sees the new size.
   */
  resize(cols: number, rows: number): Promise<void>;
  /**
   * Flow control: stop delivering output until {@link resume}. The program blocks once the
   * terminal's buffer is full, so a fast writer cannot grow the reader's memory.
   */
  pause(): void;
  resume(): void;
  /** Ends the program (SIGKILL of its session); idempotent. */
  kill(): void;
}

/** Interactive programs with a real pseudo-terminal inside a running environment. */
export interface PtyCapability {
  /** Starts `req` on a new pseudo-terminal, under the same sandbox policy as the first process. */
  openPty(ctx: DriverContext, id: string, req: PtyRequest): Promise<PtySession>;
}

/** Saving an environment's state so it can be restored (VM drivers; not OCI). */
export interface SnapshotCapability {
  snapshot(ctx: DriverContext, id: string, target: string): Promise<void>;
}

/** True when the driver can pause and resume. */
export function canPause(d: RuntimeDriver): d is RuntimeDriver & PauseCapability {
  return d.capabilities.has('pause') && 'pause' in d && 'resume' in d;
}
/** True when the driver provides desktop displays. */
export function hasDisplay(d: RuntimeDriver): d is RuntimeDriver & DisplayCapability {
  return d.capabilities.has('display') && 'display' in d;
}
/** True when the driver can exec inside a running environment. */
export function canExec(d: RuntimeDriver): d is RuntimeDriver & ExecCapability {
  return d.capabilities.has('exec') && 'exec' in d;
}
/** True when the driver can stream an exec's output as it comes. */
export function canExecStream(d: RuntimeDriver): d is RuntimeDriver & ExecStreamCapability {
  return d.capabilities.has('exec-stream') && 'execStream' in d;
}
/** True when the driver can run programs on a pseudo-terminal. */
export function canOpenPty(d: RuntimeDriver): d is RuntimeDriver & PtyCapability {
  return d.capabilities.has('pty') && 'openPty' in d;
}
/** True when the driver can snapshot. */
export function canSnapshot(d: RuntimeDriver): d is RuntimeDriver & SnapshotCapability {
  return d.capabilities.has('snapshot') && 'snapshot' in d;
}

const ENV_ID_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Checks an environment id; throws `runtime.invalid_request` otherwise. */
export function assertEnvironmentId(id: string): void {
  if (!ENV_ID_RE.test(id)) {
    throw RuntimeErrors.create('invalid_request', `Invalid environment id '${id}'.`, {
      subject: id,
      hint: 'Use 1-63 characters of a-z, 0-9, _ and -.',
    });
  }
}

/** Which operation each state allows (Firecracker-style state table). */
export const ALLOWED_OPERATIONS: Readonly<Record<EnvironmentState, readonly string[]>> = {
  created: ['start', 'stop', 'delete', 'status', 'wait'],
  running: ['pause', 'stop', 'delete', 'status', 'wait', 'exec', 'display'],
  paused: ['resume', 'stop', 'delete', 'status', 'wait'],
  stopped: ['stop', 'delete', 'status', 'wait'],
};

/** Throws `runtime.invalid_state` when `op` is not allowed in `state`. */
export function assertOperation(id: string, state: EnvironmentState, op: string): void {
  if (!ALLOWED_OPERATIONS[state].includes(op)) {
    throw RuntimeErrors.create('invalid_state', `Cannot ${op} environment ${id}: it is ${state}.`, {
      subject: id,
      details: { state, operation: op },
      hint: `In state '${state}' only ${ALLOWED_OPERATIONS[state].join(', ')} are allowed.`,
    });
  }
}
