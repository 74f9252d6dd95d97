/**
 * Stage 5: constraint validation of the filled draft: impossible and over-capacity quantities.
 * Conflicts between parts of the request are found during resolution; catalog checks (apps not
 * packaged, unavailable distros, apps that need a desktop or a stronger runtime) come from the
 * spec package's `checkSpec`, shared with `virtos spec validate`.
 */
import { SPEC_LIMITS, finding, type Finding } from '@virtos/spec';
import type { Draft } from './draft.js';

/** What the host offers, for over-capacity findings. MiB and counts. */
export interface HostCapacity {
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly diskMiB: number;
  readonly gpus: number;
}

const LIMITS = {
  cpus: { min: 0.1, max: SPEC_LIMITS.maxCpus, unit: 'CPUs', one: 'CPU' },
  memoryMiB: {
    min: SPEC_LIMITS.minMemoryMiB,
    max: SPEC_LIMITS.maxMemoryMiB,
    unit: 'MiB of memory',
    one: 'MiB of memory',
  },
  diskMiB: {
    min: SPEC_LIMITS.minDiskMiB,
    max: SPEC_LIMITS.maxDiskMiB,
    unit: 'MiB of disk',
    one: 'MiB of disk',
  },
  gpus: { min: 0, max: SPEC_LIMITS.maxGpus, unit: 'GPUs', one: 'GPU' },
} as const;

/**
 * Checks the resources of a filled draft. Out-of-range values are `unsupported` and are clamped so
 * the spec stays valid for display; over-capacity values are `unavailable` (another host may fit).
 */
export function validateDraft(draft: Draft, host: HostCapacity | undefined): Finding[] {
  const out: Finding[] = [];
  for (const key of ['cpus', 'memoryMiB', 'diskMiB', 'gpus'] as const) {
    const v = draft.resources[key];
    if (v === undefined) continue;
    const lim = LIMITS[key];
    const field = `resources.${key}`;
    const amount = (n: number) => `${n} ${n === 1 ? lim.one : lim.unit}`;
    if (!Number.isFinite(v) || v < lim.min || (key === 'gpus' && !Number.isInteger(v))) {
      out.push(
        finding(
          'unsupported',
          field,
          `${amount(v)} is not possible${v < lim.min ? `; the minimum is ${lim.min}` : ''}.`,
          { code: 'resources.out_of_range' },
        ),
      );
      draft.resources[key] =
        key === 'gpus' ? Math.max(0, Math.round(v)) : lim.min === 0.1 ? 1 : lim.min;
      if (!Number.isFinite(draft.resources[key] as number)) draft.resources[key] = lim.min;
    } else if (v > lim.max) {
      out.push(
        finding(
          'unsupported',
          field,
          `${amount(v)} is more than any environment may have (${lim.max}).`,
          { code: 'resources.out_of_range' },
        ),
      );
      draft.resources[key] = lim.max;
    } else if (host && v > host[key]) {
      out.push(
        finding(
          'unavailable',
          field,
          `${amount(v)} is more than this machine has (${host[key]}).`,
          { code: 'resources.over_capacity' },
        ),
      );
    }
    if (key === 'memoryMiB' || key === 'diskMiB')
      draft.resources[key] = Math.round(draft.resources[key] as number);
  }
  if (
    draft.ttlMinutes !== undefined &&
    draft.ttlMinutes !== null &&
    (draft.ttlMinutes <= 0 || draft.ttlMinutes > SPEC_LIMITS.maxTtlMinutes)
  ) {
    out.push(
      finding(
        'unsupported',
        'lifetime.ttlMinutes',
        `A lifetime of ${draft.ttlMinutes} minutes is not possible.`,
        { code: 'lifetime.out_of_range' },
      ),
    );
    draft.ttlMinutes = null;
  }
  if (
    draft.idleSuspendMinutes !== undefined &&
    draft.idleSuspendMinutes !== null &&
    (draft.idleSuspendMinutes <= 0 || draft.idleSuspendMinutes > SPEC_LIMITS.maxTtlMinutes)
  ) {
    out.push(
      finding(
        'unsupported',
        'lifetime.idleSuspendMinutes',
        `An idle time of ${draft.idleSuspendMinutes} minutes is not possible.`,
        { code: 'lifetime.out_of_range' },
      ),
    );
    draft.idleSuspendMinutes = null;
  }
  return out;
}
