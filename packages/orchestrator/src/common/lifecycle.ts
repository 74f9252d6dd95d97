/**
 * The lifecycle of an environment as the orchestrator sees it: six states, seven operations, and an
 * explicit table of which operation each state allows (Firecracker's per-state controllers). Any
 * other operation fails with `orchestrator.illegal_operation`, naming the state and the operation.
 */
import { OrchestratorErrors } from './errors.js';

/** Where an environment is in its life. `failed` always comes with a reason on the record. */
export type LifecycleState =
  'requested' | 'provisioning' | 'running' | 'suspended' | 'terminated' | 'failed';

/** Every lifecycle state, in life order. */
export const LIFECYCLE_STATES: readonly LifecycleState[] = [
  'requested',
  'provisioning',
  'running',
  'suspended',
  'terminated',
  'failed',
];

/** What a caller (or the scheduler, for `provision`) can ask of an environment. */
export type Operation =
  'provision' | 'suspend' | 'resume' | 'modify' | 'terminate' | 'exec' | 'display';

/** Every operation. */
export const OPERATIONS: readonly Operation[] = [
  'provision',
  'suspend',
  'resume',
  'modify',
  'terminate',
  'exec',
  'display',
];

/**
 * Which operations each state allows. `provision` is the scheduler's own step (requested ->
 * provisioning). A provisioning environment can only be terminated (its provisioning is aborted and
 * cleaned up). `terminated` is final; a `failed` environment can only be terminated, which releases
 * its record from quotas and removes any trace left on the host.
 */
export const ALLOWED: Readonly<Record<LifecycleState, readonly Operation[]>> = {
  requested: ['provision', 'modify', 'terminate'],
  provisioning: ['terminate'],
  running: ['suspend', 'modify', 'terminate', 'exec', 'display'],
  suspended: ['resume', 'modify', 'terminate'],
  terminated: [],
  failed: ['terminate'],
};

/**
 * The transitions the orchestrator makes, from -> allowed targets. `provisioning -> requested` is
 * the reconciler's restart of a provisioning interrupted by a daemon crash or shutdown.
 */
export const TRANSITIONS: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  requested: ['provisioning', 'terminated', 'failed'],
  provisioning: ['running', 'requested', 'terminated', 'failed'],
  running: ['suspended', 'terminated', 'failed'],
  suspended: ['running', 'terminated', 'failed'],
  terminated: [],
  failed: ['terminated'],
};

/** True when `op` is allowed in `state`. */
export function isAllowed(state: LifecycleState, op: Operation): boolean {
  return ALLOWED[state].includes(op);
}

/** True for states that hold (or are about to hold) host capacity. */
export function holdsCapacity(state: LifecycleState): boolean {
  return state === 'provisioning' || state === 'running' || state === 'suspended';
}

/** True for states that count against an owner's quota (everything not finished). */
export function isActive(state: LifecycleState): boolean {
  return state !== 'terminated' && state !== 'failed';
}

/**
 * Throws `orchestrator.illegal_operation` when `op` is not allowed in `state`, e.g.
 * "Cannot suspend env e-1: it is 'provisioning'; allowed: terminate".
 */
export function assertAllowed(id: string, state: LifecycleState, op: Operation): void {
  if (isAllowed(state, op)) return;
  const allowed = ALLOWED[state];
  throw OrchestratorErrors.create(
    'illegal_operation',
    `Cannot ${op} env ${id}: it is '${state}'; allowed: ${allowed.length ? allowed.join(', ') : 'nothing'}.`,
    {
      subject: id,
      details: { state, operation: op, allowed: [...allowed] },
      hint:
        state === 'terminated'
          ? 'The environment has ended; create a new one.'
          : state === 'provisioning'
            ? 'Wait until it is running (follow its events), or terminate it.'
            : `In state '${state}' only ${allowed.join(', ')} can be asked.`,
    },
  );
}
