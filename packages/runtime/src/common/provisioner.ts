/**
 * The Provisioner: from an environment spec to a running environment on this host, and back to
 * nothing. It composes the image store (layers + overlay mount), the network manager (netns and
 * mode) and a runtime driver, records what it made on disk, and undoes exactly that. The
 * orchestrator and the daemon code against this interface; `createProvisioner` (node) is the real
 * one and {@link FakeProvisioner} the in-memory one for unit tests.
 */
import type { EnvironmentSpec, Finding } from '@virtos/spec';
import type {
  DisplayEndpoint,
  DriverContext,
  EnvironmentStatus,
  ExecOutputSink,
  ExecRequest,
  ExecResult,
  ExecStreamResult,
  KnownDriverKind,
  PtyRequest,
  PtySession,
} from './driver.js';

/** The steps of a provisioning, in order. */
export type ProvisionPhase = 'image' | 'rootfs' | 'network' | 'create' | 'start' | 'display';

/** One progress report of {@link Provisioner.provision}. */
export interface ProvisionProgress {
  readonly phase: ProvisionPhase;
  /** What is happening, for a person (never user data such as allowlisted names). */
  readonly message: string;
  /** Milliseconds since `provision` was called. */
  readonly elapsedMs: number;
}

/** Which real runtime runs an environment, and why. */
export interface RuntimeChoice {
  readonly kind: KnownDriverKind;
  /** Why this runtime, for a person. */
  readonly reason: string;
  /** Set when the spec's runtime class was mapped to something else, e.g. microvm -> gVisor. */
  readonly substitution?: Finding;
}

/** A provisioned environment as the provisioner reports it. */
export interface ProvisionedEnvironment {
  readonly id: string;
  readonly runtime: RuntimeChoice;
  readonly status: EnvironmentStatus;
  /** The VNC endpoint of a desktop, once its window manager is ready. */
  readonly display?: DisplayEndpoint;
  /** Epoch milliseconds (the provisioner's clock) when the environment was started. */
  readonly startedAt: number;
  /** Milliseconds `provision` took in total (spec to running, display-ready for desktops). */
  readonly provisionMs?: number;
}

/** What to provision. */
export interface ProvisionRequest {
  /** Unique on this host: 1-63 of [a-z0-9_-] (the driver's id rule). */
  readonly id: string;
  readonly spec: EnvironmentSpec;
  /** Groups the environment belongs to (a peer entry of another spec may name a group). */
  readonly groups?: readonly string[];
}

/** Provisions and removes environments on this host. Every call takes a context with a signal. */
export interface Provisioner {
  /** Which real runtime this host uses for the spec's class, and why (no side effects). */
  chooseRuntime(spec: EnvironmentSpec): RuntimeChoice;
  /**
   * images.ensure -> mountRootfs (tmpfs writable layer of spec.resources.diskMiB) -> network setup
   * -> driver create+start -> display ready for desktops. Cleans up everything it made if any step
   * fails (or the signal aborts), then rethrows the coded error.
   */
  provision(
    ctx: DriverContext,
    req: ProvisionRequest,
    onProgress?: (p: ProvisionProgress) => void,
  ): Promise<ProvisionedEnvironment>;
  /** Freezes every process of the environment. */
  suspend(ctx: DriverContext, id: string): Promise<EnvironmentStatus>;
  /** Thaws a suspended environment. */
  resume(ctx: DriverContext, id: string): Promise<EnvironmentStatus>;
  /** Runs a command inside the running environment (default uid 1000, same policy). */
  exec(ctx: DriverContext, id: string, req: ExecRequest): Promise<ExecResult>;
  /** Like exec, with stdout and stderr delivered to `sink` as they come (capped 1 MiB each). */
  execStream(
    ctx: DriverContext,
    id: string,
    req: ExecRequest,
    sink: ExecOutputSink,
  ): Promise<ExecStreamResult>;
  /** A program (default: a login shell) on a new pseudo-terminal inside the environment. */
  openPty(ctx: DriverContext, id: string, req: PtyRequest): Promise<PtySession>;
  /** The observed status; throws `runtime.not_found` for an id this host has no trace of. */
  status(ctx: DriverContext, id: string): Promise<EnvironmentStatus>;
  /** The desktop's VNC endpoint (waits until ready); `runtime.invalid_request` without a desktop. */
  display(ctx: DriverContext, id: string): Promise<DisplayEndpoint>;
  /**
   * Exact cleanup: driver delete, network dispose, rootfs unmount; idempotent; works for
   * environments of a previous (crashed) daemon process, from on-disk records under stateDir.
   */
  teardown(ctx: DriverContext, id: string): Promise<void>;
  /** Ids with any trace on this host (records, driver, mounts), for the orchestrator's reconciler. */
  list(ctx: DriverContext): Promise<readonly string[]>;
  /**
   * Optional: takes over an environment that an earlier daemon process left running on this host
   * (environments outlive the daemon). Re-creates what lived inside that process (the allowlist
   * egress proxy and its DNS responder) from the spec, which only the registry holds. Idempotent;
   * an environment this process made or adopted already is left as is. Returns the observed status:
   * an environment that no longer runs is not adopted (`stopped`), one with no trace throws
   * `runtime.not_found`.
   */
  adopt?(ctx: DriverContext, req: ProvisionRequest): Promise<EnvironmentStatus>;
}

/** True when the provisioner can take over environments of an earlier process. */
export function canAdopt(p: Provisioner): p is Provisioner & Required<Pick<Provisioner, 'adopt'>> {
  return typeof p.adopt === 'function';
}
