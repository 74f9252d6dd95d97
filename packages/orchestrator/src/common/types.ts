/**
 * The orchestrator's records and events: what the registry stores and what the daemon serves.
 */
import type { EnvironmentSpec, Finding } from '@virtos/spec';
import type { LifecycleState } from './lifecycle.js';

/** Kinds of {@link EnvironmentEvent}. */
export type EnvironmentEventType =
  'created' | 'transition' | 'modified' | 'progress' | 'finding' | 'error';

/**
 * One entry of an environment's history (the audit trail). `seq` counts from 1 per environment, so
 * a client following one environment resumes with `events(id, lastSeq)`.
 */
export interface EnvironmentEvent {
  /** 1, 2, 3, ... per environment. */
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly envId: string;
  readonly type: EnvironmentEventType;
  /** For transitions: the state left. */
  readonly from?: LifecycleState;
  /** For transitions: the state entered. */
  readonly to?: LifecycleState;
  /** What happened, for a person (never user data such as allowlisted names). */
  readonly message: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** Where a desktop's display can be reached (the gateway connects to the Unix socket). */
export interface RecordDisplay {
  readonly protocol: 'rfb';
  readonly socketPath: string;
  /** Pixels. */
  readonly width: number;
  /** Pixels. */
  readonly height: number;
}

/**
 * One environment in the registry: the desired spec, the observed state, where and how it runs, and
 * its findings. The event history is kept beside it in the store.
 */
export interface EnvironmentRecord {
  /** `env_<16 base32>`; also the provisioner's id for it on the host. */
  readonly id: string;
  /** Unique per owner among active environments. */
  readonly name: string;
  readonly owner: string;
  /** The desired spec. */
  readonly spec: EnvironmentSpec;
  readonly state: LifecycleState;
  /** Why it failed (`vanished`, `provision_failed`, `unschedulable`, ...); set only when `failed`. */
  readonly reason?: string;
  /** The host it is placed on; empty while not placed. */
  readonly host: string;
  /** The real runtime chosen for the spec's class, and why. */
  readonly runtime?: { readonly kind: string; readonly reason: string };
  /** Composer findings, the runtime substitution, modify findings. */
  readonly findings: readonly Finding[];
  /** Integer scheduling priority from the spec (low 0, normal 1, high 2). */
  readonly priority: number;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms of the last change of the record. */
  readonly updatedAt: number;
  /** Epoch ms when it last started running (TTL counts from here). */
  readonly startedAt?: number;
  /** Epoch ms of the last exec, display or gateway touch (idle suspend counts from here). */
  readonly lastActiveAt?: number;
  readonly display?: RecordDisplay;
  /** Epoch ms when it entered the queue (`requested`); ageing of its priority counts from here. */
  readonly queuedAt?: number;
  /** How many provisionings were started (a restart mid-provisioning starts another). */
  readonly attempts?: number;
}

/** A machine environments can be placed on, with its capacity. */
export interface HostInfo {
  readonly id: string;
  /** CPU cores (fractions allowed in specs). */
  readonly cpus: number;
  /** MiB. */
  readonly memoryMiB: number;
  readonly gpus: number;
  /** Runtime classes the host can serve (directly or by a stated substitution). */
  readonly runtimes: readonly ('container' | 'microvm' | 'vm')[];
}
