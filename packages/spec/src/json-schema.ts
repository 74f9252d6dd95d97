/**
 * JSON Schema export of the spec, for other languages, editors and the daemon's OpenAPI document.
 * docs/environment-spec.schema.json is generated from this by `npm run gen`.
 */
import { z } from 'zod';
import { EnvironmentSpecSchema, SPEC_VERSION } from './schema.js';

/** The JSON Schema (draft 2020-12) of the current spec version. */
export function specJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(EnvironmentSpecSchema, { target: 'draft-2020-12', io: 'input' });
  return {
    ...schema,
    $id: `https://virtos.invalid/schemas/environment-spec/v${SPEC_VERSION}.json`,
    title: `VirtOS EnvironmentSpec v${SPEC_VERSION}`,
  };
}
