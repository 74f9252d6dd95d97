/**
 * The gateway's error codes. Only the gateway (and the daemon) maps error classes to transport
 * codes: see {@link httpStatusFor} for refusals before the WebSocket upgrade and `CLOSE_CODES` for
 * streams that end after it.
 */
import type { ErrorClass } from '@virtos/core';
import { defineErrors } from '@virtos/core';

/** Every error the gateway raises, with its class. */
export const GatewayErrors = defineErrors('gateway', {
  /** The request carried no stream token. */
  token_missing: 'permission_denied',
  /** The token is unknown, expired, already used, or bound to another environment. */
  token_invalid: 'permission_denied',
  /** Too many outstanding tokens: someone is minting them in a loop. */
  too_many_tokens: 'resource_exhausted',
  /** The Origin header is absent or not the daemon's own origin. */
  origin_refused: 'permission_denied',
  /** The URL is not `/streams/<env>?token=…` (bad env id, extra parameters, bad path). */
  invalid_request: 'invalid_argument',
  /** The daemon already carries its maximum number of streams. */
  too_many_streams: 'resource_exhausted',
  /** The resolver knows no display endpoint for the environment. */
  endpoint_not_found: 'not_found',
  /** The endpoint exists but cannot be reached (socket gone, not a socket, refused). */
  endpoint_unavailable: 'unavailable',
  /** The endpoint speaks a protocol this gateway does not proxy (yet). */
  unsupported_protocol: 'failed_precondition',
  /** The gateway has been closed. */
  closed: 'unavailable',
});

/** A code of {@link GatewayErrors}. */
export type GatewayErrorCode = keyof typeof GatewayErrors.codes;

/**
 * The HTTP status a refused upgrade answers with. Browsers hide it from scripts (a refused
 * WebSocket is just close code 1006), so the client contract is: on 1006 before open, ask the API
 * for a fresh token once, then show "cannot connect".
 */
export function httpStatusFor(errorClass: ErrorClass): number {
  switch (errorClass) {
    case 'permission_denied':
      return 403;
    case 'invalid_argument':
      return 400;
    case 'not_found':
      return 404;
    case 'resource_exhausted':
      return 503;
    case 'unavailable':
      return 502;
    case 'failed_precondition':
      return 409;
    default:
      return 500;
  }
}
