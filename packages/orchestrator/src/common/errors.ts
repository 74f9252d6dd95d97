/** The closed set of orchestrator error codes. */
import { defineErrors } from '@virtos/core';

/**
 * Errors of the orchestrator. Messages say what failed on which environment; hints say what to do.
 * - `not_found`: no record with that id.
 * - `illegal_operation`: the operation is not allowed in the environment's state (names both).
 * - `quota_exceeded`: the owner's quota (environments, CPUs, memory) would be exceeded.
 * - `compose_failed`: the request text did not compose into a spec without blocking findings.
 * - `unschedulable`: no host could ever run the spec (too large, runtime class unsupported).
 * - `name_taken`: the owner already has an active environment with that name.
 * - `invalid_spec`: the spec given is not a valid EnvironmentSpec.
 * - `store_failed`: the registry store could not be read or written.
 * - `disposed`: the orchestrator was shut down.
 */
export const OrchestratorErrors = defineErrors('orchestrator', {
  not_found: 'not_found',
  illegal_operation: 'failed_precondition',
  quota_exceeded: 'resource_exhausted',
  compose_failed: 'invalid_argument',
  unschedulable: 'resource_exhausted',
  name_taken: 'already_exists',
  invalid_spec: 'invalid_argument',
  store_failed: 'internal',
  disposed: 'unavailable',
});
