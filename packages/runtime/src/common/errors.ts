/** The closed set of runtime error codes. */
import { defineErrors } from '@virtos/core';

/**
 * Errors of the runtime package. Messages say what failed on which environment; hints say what to do.
 * - `unavailable`: no usable runtime (missing binary, host refusal such as crun's hybrid cgroups).
 * - `invalid_state`: the operation is not allowed in the environment's current state.
 * - `display_timeout`: the display did not become ready in time.
 * - `unadoptable`: an environment an earlier daemon left running can never be taken over (what it
 *   needs from the new process cannot be made again, e.g. its network is gone); retrying is useless.
 */
export const RuntimeErrors = defineErrors('runtime', {
  unavailable: 'unavailable',
  not_found: 'not_found',
  already_exists: 'already_exists',
  invalid_state: 'failed_precondition',
  invalid_request: 'invalid_argument',
  display_timeout: 'unavailable',
  unadoptable: 'failed_precondition',
  failed: 'internal',
});
