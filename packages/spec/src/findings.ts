/**
 * Findings: what the composer or the validator noticed about a request or a spec. A blocking finding
 * means the spec must not be provisioned as it is.
 */

/** Kinds of finding. The first three block. */
export const FINDING_KINDS = [
  'ambiguity',
  'conflict',
  'unsupported',
  'unavailable',
  'assumption',
  'substitution',
] as const;
/** A finding kind. */
export type FindingKind = (typeof FINDING_KINDS)[number];

/** Kinds that always block provisioning. */
export const BLOCKING_KINDS: ReadonlySet<FindingKind> = new Set([
  'ambiguity',
  'conflict',
  'unsupported',
]);

/** One choice of an ambiguity, as a UI would offer it. */
export interface FindingOption {
  /** The value to put in `field` when chosen (e.g. `ubuntu`, or an app id). */
  readonly value: string;
  /** A short label for a person. */
  readonly label: string;
}

/** Something noticed about a request or a spec. */
export interface Finding {
  readonly kind: FindingKind;
  /** True for ambiguity, conflict and unsupported. */
  readonly blocking: boolean;
  /** The spec field it is about, as a dotted path (`network.mode`, `apps`), or `request`. */
  readonly field: string;
  /** What was noticed, for a person. */
  readonly message: string;
  /** For an ambiguity: the clarifying question's choices. */
  readonly options?: readonly FindingOption[];
  /** A stable, machine-readable reason (`app.unknown`, `distro.unavailable`, `request.hostile`). */
  readonly code?: string;
}

/** Makes a finding, setting `blocking` from its kind. */
export function finding(
  kind: FindingKind,
  field: string,
  message: string,
  extra: { options?: readonly FindingOption[]; code?: string } = {},
): Finding {
  return {
    kind,
    blocking: BLOCKING_KINDS.has(kind),
    field,
    message,
    ...(extra.options !== undefined && { options: extra.options }),
    ...(extra.code !== undefined && { code: extra.code }),
  };
}

/** True when any finding blocks. */
export function hasBlocking(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.blocking);
}
