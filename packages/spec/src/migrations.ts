/**
 * Spec versions and migrations. A stored or hand-written spec of an older version is migrated step
 * by step (v1 -> v2 -> ...) to the current version before validation. Each step is a pure function
 * on plain JSON.
 */
import { err, ok, type Result, type VirtosError } from '@virtos/core';
import { SpecErrors } from './errors.js';
import { SPEC_VERSION } from './schema.js';

/** A migration from `from` to `from + 1`. */
export interface SpecMigration {
  readonly from: number;
  /** What changed, for docs and logs. */
  readonly summary: string;
  migrate(input: Record<string, unknown>): Record<string, unknown>;
}

/**
 * The migrations, in order. Version 1 is the first version, so there are none yet; version 2 adds
 * its step here, e.g. `{ from: 1, summary: 'rename x', migrate: (s) => ({ ...s, version: 2 }) }`.
 */
export const SPEC_MIGRATIONS: readonly SpecMigration[] = [];

/**
 * Brings a parsed spec object of any known version up to {@link SPEC_VERSION}. A missing version is
 * taken as 1. Does not validate: call `parseSpec` on the result.
 */
export function migrateSpec(
  input: unknown,
  migrations: readonly SpecMigration[] = SPEC_MIGRATIONS,
  target: number = SPEC_VERSION,
): Result<Record<string, unknown>, VirtosError> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return err(SpecErrors.create('invalid', 'A spec must be a JSON object.'));
  }
  let spec = input as Record<string, unknown>;
  let version = spec['version'] ?? 1;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    return err(
      SpecErrors.create(
        'unknown_version',
        `Spec version ${JSON.stringify(version)} is not valid.`,
        {
          subject: 'version',
          hint: `Use "version": ${target}.`,
        },
      ),
    );
  }
  if (version > target) {
    return err(
      SpecErrors.create('unknown_version', `Spec version ${version} is newer than this VirtOS.`, {
        subject: 'version',
        hint: `This VirtOS understands spec versions up to ${target}; update VirtOS.`,
      }),
    );
  }
  while (version < target) {
    const step = migrations.find((m) => m.from === version);
    if (!step) {
      return err(
        SpecErrors.create('unknown_version', `No migration from spec version ${version}.`, {
          subject: 'version',
        }),
      );
    }
    spec = step.migrate(spec);
    version += 1;
    spec = { ...spec, version };
  }
  return ok({ ...spec, version });
}
