import { defineErrors } from '@virtos/core';

/**
 * Error codes of the network part of the sandbox. `tool_missing` and `not_permitted` are the two
 * failures a user can fix on their own machine, so they always carry a hint.
 */
export const NetworkErrors = defineErrors('network', {
  setup_failed: 'internal',
  teardown_failed: 'internal',
  tool_missing: 'failed_precondition',
  not_permitted: 'permission_denied',
  addresses_exhausted: 'resource_exhausted',
  invalid_spec: 'invalid_argument',
  unavailable: 'unavailable',
});
