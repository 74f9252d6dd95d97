import { defineErrors } from '@virtos/core';

/** Error codes of the spec package. */
export const SpecErrors = defineErrors('spec', {
  invalid: 'invalid_argument',
  unknown_version: 'invalid_argument',
  not_json: 'invalid_argument',
  too_large: 'invalid_argument',
});
