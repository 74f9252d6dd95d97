/**
 * The CLI's view of the outside: where it writes, what environment it sees, and how errors become
 * exit codes. Commands take a {@link CliContext} so tests can run them in-process.
 */
import { toVirtosError, type ErrorClass, type VirtosError } from '@virtos/core';

/**
 * Exit codes of `virtos`, documented in docs/cli.md. Scripts may rely on them.
 */
export const EXIT = {
  ok: 0,
  /** An unexpected failure (a bug, or an internal error). */
  failure: 1,
  /** Wrong flags or arguments. */
  usage: 2,
  /** The request or spec was understood but is not OK as it is (blocking findings). */
  notOk: 3,
  /** The input could not be read or parsed (missing file, not JSON, invalid spec). */
  invalidInput: 4,
  /** Something needed is unavailable here (runtime, mirror, daemon). */
  unavailable: 5,
  /** Refused: wrong passphrase, locked vault, permission denied. */
  denied: 6,
  /** Not found: unknown id or name. */
  notFound: 7,
  /** Cancelled (Ctrl-C). */
  cancelled: 130,
} as const;

const CLASS_EXIT: Record<ErrorClass, number> = {
  invalid_argument: EXIT.invalidInput,
  failed_precondition: EXIT.notOk,
  already_exists: EXIT.notOk,
  unavailable: EXIT.unavailable,
  resource_exhausted: EXIT.unavailable,
  permission_denied: EXIT.denied,
  not_found: EXIT.notFound,
  cancelled: EXIT.cancelled,
  internal: EXIT.failure,
};

/** The exit code for an error of this class. */
export function exitCodeFor(error: VirtosError): number {
  return CLASS_EXIT[error.errorClass];
}

/** What a command may use of its surroundings. */
export interface CliContext {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Reads a whole file as UTF-8 (tests may replace it). */
  readonly readFile: (path: string) => Promise<string>;
  /** Reads standard input to its end as UTF-8, refusing more than `maxBytes`. */
  readonly readStdin?: (maxBytes: number) => Promise<string>;
  /** Set by a command to the process exit code. */
  exitCode: number;
}

/** Prints a value as exactly one JSON document on stdout. */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2) + '\n');
}

/**
 * Reports an error: as `{ ok: false, error }` on stdout with `--json`, else as a readable message
 * with its hint on stderr. Sets the exit code from the error's class.
 */
export function reportError(ctx: CliContext, error: unknown, json: boolean): void {
  const e = toVirtosError(error);
  if (json) printJson(ctx, { ok: false, error: e.toJSON() });
  else ctx.err(`virtos: ${e.describe()}\n`);
  ctx.exitCode = exitCodeFor(e);
}
