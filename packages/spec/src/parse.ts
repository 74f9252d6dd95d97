/**
 * Parsing and checking specs: JSON text or objects in, a validated spec or coded errors out.
 */
import { err, ok, type Result, type VirtosError } from '@virtos/core';
import { SpecErrors } from './errors.js';
import { migrateSpec } from './migrations.js';
import { EnvironmentSpecSchema, type EnvironmentSpec } from './schema.js';

/** Largest spec text accepted, in bytes. Real specs are a few KiB. */
export const MAX_SPEC_BYTES = 256 * 1024;

/** One schema problem: where and what. */
export interface SpecIssue {
  /** Dotted path of the field, e.g. `resources.memoryMiB` (empty for the whole spec). */
  readonly path: string;
  readonly message: string;
}

/** Validates (after migrating) a parsed spec object. */
export function parseSpec(input: unknown): Result<EnvironmentSpec, VirtosError> {
  const migrated = migrateSpec(input);
  if (!migrated.ok) return migrated;
  const result = EnvironmentSpecSchema.safeParse(migrated.value);
  if (result.success) return ok(result.data);
  const issues: SpecIssue[] = result.error.issues.map((i) => ({
    path: i.path.map(String).join('.'),
    message: i.message,
  }));
  const first = issues[0];
  const summary = first ? `${first.path || 'spec'}: ${first.message}` : 'invalid';
  return err(
    SpecErrors.create(
      'invalid',
      `The spec is not valid (${issues.length} problem${issues.length === 1 ? '' : 's'}; ${summary}).`,
      {
        details: { issues },
        hint: 'See docs/environment-spec.md for every field, or run `virtos spec schema`.',
        ...(first?.path ? { subject: first.path } : {}),
      },
    ),
  );
}

/** Parses spec JSON text (bounded in size) and validates it. */
export function parseSpecJson(text: string): Result<EnvironmentSpec, VirtosError> {
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_SPEC_BYTES) {
    return err(
      SpecErrors.create(
        'too_large',
        `The spec is ${bytes} bytes; the limit is ${MAX_SPEC_BYTES}.`,
        {
          hint: 'A spec is a small JSON object; check that the right file was given.',
        },
      ),
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return err(
      SpecErrors.create('not_json', `The spec is not JSON: ${(e as Error).message}.`, {
        hint: 'A spec file is a JSON object; see docs/environment-spec.md.',
      }),
    );
  }
  return parseSpec(value);
}
