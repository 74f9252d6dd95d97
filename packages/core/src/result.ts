/**
 * Result: expected outcomes of parsing and validation are values, not exceptions.
 */

/** Success with a value, or failure with an error. */
export type Result<T, E = Error> = Ok<T> | Err<E>;

/** The success side of a {@link Result}. */
export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}

/** The failure side of a {@link Result}. */
export interface Err<E> {
  readonly ok: false;
  readonly error: E;
}

/** Makes a success. */
export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

/** Makes a failure. */
export function err<E>(error: E): Err<E> {
  return { ok: false, error };
}

/** Returns the value or throws the error. For call sites where failure is a bug. */
export function unwrap<T, E>(result: Result<T, E>): T {
  if (result.ok) return result.value;
  throw result.error;
}
