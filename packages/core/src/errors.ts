/**
 * The one error type of VirtOS. Every package declares a closed set of codes with
 * {@link defineErrors}; each code maps to one {@link ErrorClass}, and only the daemon and the gateway
 * map classes to HTTP or WebSocket status codes.
 */

/** The small, closed set of error classes that callers branch on. */
export const ERROR_CLASSES = [
  'not_found',
  'invalid_argument',
  'failed_precondition',
  'unavailable',
  'permission_denied',
  'resource_exhausted',
  'already_exists',
  'cancelled',
  'internal',
] as const;

/** What kind of failure an error is, independent of the package that raised it. */
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** Optional parts of an error besides its code and message. */
export interface ErrorOptions {
  /** What the error is about: an environment id, a file path, a field name. */
  readonly subject?: string;
  /** What the user or caller can do about it. */
  readonly hint?: string;
  /** Machine-readable extra facts (never secrets). */
  readonly details?: Readonly<Record<string, unknown>>;
  /** The lower-level error this one wraps. */
  readonly cause?: unknown;
}

/** The JSON form of an error, as APIs and `--json` output carry it. */
export interface ErrorJson {
  readonly code: string;
  readonly class: ErrorClass;
  readonly message: string;
  readonly subject?: string;
  readonly hint?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * An error with a namespaced code (`vault.locked`), a class, a message saying what failed on what and
 * why, and a hint saying what to do.
 */
export class VirtosError extends Error {
  override readonly name = 'VirtosError';
  readonly code: string;
  readonly errorClass: ErrorClass;
  readonly subject: string | undefined;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, errorClass: ErrorClass, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errorClass = errorClass;
    this.subject = options.subject;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** The message with its hint, as a person should read it. */
  describe(): string {
    return this.hint ? `${this.message}\nHint: ${this.hint}` : this.message;
  }

  toJSON(): ErrorJson {
    return {
      code: this.code,
      class: this.errorClass,
      message: this.message,
      ...(this.subject !== undefined && { subject: this.subject }),
      ...(this.hint !== undefined && { hint: this.hint }),
      ...(this.details !== undefined && { details: this.details }),
    };
  }
}

/** A package's closed set of error codes with a typed factory and guard. */
export interface ErrorFamily<Code extends string> {
  /** The package namespace, e.g. `vault`. */
  readonly namespace: string;
  /** Every code of the family, without the namespace, with its class. */
  readonly codes: Readonly<Record<Code, ErrorClass>>;
  /** Creates an error `<namespace>.<code>` of the code's class. */
  create(code: Code, message: string, options?: ErrorOptions): VirtosError;
  /** True when `err` is a VirtosError of this family (and of `code`, when given). */
  is(err: unknown, code?: Code): err is VirtosError;
}

/**
 * Declares a package's error codes. Codes are closed: creating one that was not declared is a type
 * error, and the class of each code is fixed here, once.
 *
 * @example const VaultErrors = defineErrors('vault', { locked: 'failed_precondition' });
 */
export function defineErrors<const Codes extends Record<string, ErrorClass>>(
  namespace: string,
  codes: Codes,
): ErrorFamily<Extract<keyof Codes, string>> {
  type Code = Extract<keyof Codes, string>;
  return {
    namespace,
    codes: codes as Readonly<Record<Code, ErrorClass>>,
    create(code: Code, message: string, options?: ErrorOptions): VirtosError {
      return new VirtosError(`${namespace}.${code}`, codes[code] as ErrorClass, message, options);
    },
    is(err: unknown, code?: Code): err is VirtosError {
      if (!(err instanceof VirtosError)) return false;
      return code === undefined
        ? err.code.startsWith(`${namespace}.`)
        : err.code === `${namespace}.${code}`;
    },
  };
}

/** Errors that belong to no package in particular. */
export const CoreErrors = defineErrors('core', {
  cancelled: 'cancelled',
  internal: 'internal',
  invalid_argument: 'invalid_argument',
  timeout: 'unavailable',
});

/** True when the error means "the caller cancelled": never log it as a failure. */
export function isCancellation(err: unknown): boolean {
  if (err instanceof VirtosError) return err.errorClass === 'cancelled';
  return err instanceof Error && err.name === 'AbortError';
}

/** Throws a `core.cancelled` error when the signal has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'operation'): void {
  if (signal?.aborted) {
    throw CoreErrors.create('cancelled', `The ${what} was cancelled.`, { cause: signal.reason });
  }
}

/**
 * Turns anything thrown into a VirtosError, keeping VirtosErrors as they are. Unknown errors become
 * `core.internal` and keep the original as the cause.
 */
export function toVirtosError(err: unknown): VirtosError {
  if (err instanceof VirtosError) return err;
  if (isCancellation(err)) return CoreErrors.create('cancelled', 'The operation was cancelled.');
  const message = err instanceof Error ? err.message : String(err);
  return CoreErrors.create('internal', `Unexpected error: ${message}`, {
    cause: err,
    hint: 'This is a bug in VirtOS; please report it with the log.',
  });
}
