/**
 * The part of `@virtos/runtime`'s Provisioner the orchestrator calls. Declared here, structurally
 * identical, until the runtime package exports its interface; then this file re-exports it.
 */
import type {
  DisplayEndpoint,
  DriverContext,
  EnvironmentStatus,
  ExecRequest,
  ExecResult,
} from '@virtos/runtime';
import type { EnvironmentSpec, Finding } from '@virtos/spec';

/** Which real runtime runs an environment, and why. */
export interface RuntimeChoice {
  readonly kind: string;
  readonly reason: string;
  readonly substitution?: Finding;
}

/** One progress report of a provisioning. */
export interface ProvisionProgress {
  readonly phase: string;
  readonly message: string;
  readonly elapsedMs: number;
}

/** A provisioned environment. */
export interface ProvisionedEnvironment {
  readonly id: string;
  readonly runtime: RuntimeChoice;
  readonly status: EnvironmentStatus;
  readonly display?: DisplayEndpoint;
  readonly startedAt: number;
  readonly provisionMs?: number;
}

/** What to provision. */
export interface ProvisionRequest {
  readonly id: string;
  readonly spec: EnvironmentSpec;
  readonly groups?: readonly string[];
}

/** Provisions and removes environments on a host. */
export interface Provisioner {
  chooseRuntime(spec: EnvironmentSpec): RuntimeChoice;
  provision(
    ctx: DriverContext,
    req: ProvisionRequest,
    onProgress?: (p: ProvisionProgress) => void,
  ): Promise<ProvisionedEnvironment>;
  suspend(ctx: DriverContext, id: string): Promise<EnvironmentStatus>;
  resume(ctx: DriverContext, id: string): Promise<EnvironmentStatus>;
  exec(ctx: DriverContext, id: string, req: ExecRequest): Promise<ExecResult>;
  status(ctx: DriverContext, id: string): Promise<EnvironmentStatus>;
  display(ctx: DriverContext, id: string): Promise<DisplayEndpoint>;
  teardown(ctx: DriverContext, id: string): Promise<void>;
  list(ctx: DriverContext): Promise<readonly string[]>;
}
