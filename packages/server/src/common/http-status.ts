/**
 * The one place where error classes become HTTP status codes (STYLE.md: only the daemon and the
 * gateway map classes to transport codes). A few codes get a more precise status than their class.
 */
import type { ErrorClass, VirtosError } from '@virtos/core';

/** HTTP status per error class. 499 is nginx's "client closed request". */
export const HTTP_STATUS_BY_CLASS: Readonly<Record<ErrorClass, number>> = {
  not_found: 404,
  invalid_argument: 400,
  failed_precondition: 409,
  already_exists: 409,
  permission_denied: 403,
  unavailable: 503,
  resource_exhausted: 429,
  cancelled: 499,
  internal: 500,
};

/** Codes whose status is more precise than their class's. */
export const HTTP_STATUS_BY_CODE: Readonly<Record<string, number>> = {
  // No or a dead token: 401 tells a client to unlock again; a refused unlock stays 403.
  'server.unauthenticated': 401,
  'server.body_too_large': 413,
  'server.unsupported_media_type': 415,
  'server.compose_not_ok': 422,
};

/** The HTTP status for an error. */
export function httpStatusFor(error: VirtosError): number {
  return HTTP_STATUS_BY_CODE[error.code] ?? HTTP_STATUS_BY_CLASS[error.errorClass];
}

/** The body of every error response: `{ error: { code, class, message, hint?, subject? } }`. */
export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly class: ErrorClass;
    readonly message: string;
    readonly hint?: string;
    readonly subject?: string;
    readonly details?: Readonly<Record<string, unknown>>;
  };
}

/** The JSON body for an error (internal errors keep their cause out of the response). */
export function errorBody(error: VirtosError): ErrorBody {
  return { error: error.toJSON() };
}
