/**
 * The closed set of daemon error codes (`server.<code>`). Other packages' errors (`vault.*`,
 * `orchestrator.*`, `runtime.*`) pass through the API unchanged; these are the daemon's own.
 */
import { defineErrors } from '@virtos/core';

/** Errors raised by the daemon itself. */
export const ServerErrors = defineErrors('server', {
  /** No session token, or one that is unknown, expired or revoked. */
  unauthenticated: 'permission_denied',
  /** The Host header names something other than this daemon (DNS rebinding). */
  bad_host: 'permission_denied',
  /** The Origin header (or Sec-Fetch-Site) says the request comes from another site. */
  bad_origin: 'permission_denied',
  /** The request body is larger than the limit. */
  body_too_large: 'invalid_argument',
  /** The request body is not valid JSON. */
  malformed_json: 'invalid_argument',
  /** The request body or query does not match the route's schema. */
  invalid_request: 'invalid_argument',
  /** The body's content type is not application/json. */
  unsupported_media_type: 'invalid_argument',
  /** No such route. */
  no_such_route: 'not_found',
  /** Too many failed unlock attempts; wait before trying again. */
  too_many_attempts: 'resource_exhausted',
  /** The vault must be unlocked first. */
  locked: 'failed_precondition',
  /** There is no vault yet: call POST /api/vault/init. */
  no_vault: 'failed_precondition',
  /** POST /api/vault/init when a vault exists already. */
  vault_exists: 'already_exists',
  /** The composer found blocking problems in the request; the findings say which. */
  compose_not_ok: 'failed_precondition',
  /** The environment cannot be streamed now (not running, or no display). */
  not_streamable: 'failed_precondition',
  /** The daemon is shutting down. */
  shutting_down: 'unavailable',
  /** A daemon option (flag or environment variable) has a value it does not accept. */
  bad_option: 'invalid_argument',
  /** The listen address is not allowed or not free. */
  bad_listen_address: 'invalid_argument',
  /** A non-loopback listen address without TLS (--tls-cert/--tls-key or --tls-self-signed). */
  tls_required: 'failed_precondition',
  /** The TLS certificate or key cannot be read, does not match, or cannot be made. */
  tls_unusable: 'invalid_argument',
  /** The daemon presented a certificate other than the one recorded in daemon.json. */
  tls_untrusted: 'permission_denied',
  /** No daemon answers at the address in session.json. */
  daemon_unreachable: 'unavailable',
  /** The daemon answered something that is not a coded error (a bug or a foreign server). */
  bad_response: 'internal',
});

/** A code of {@link ServerErrors}, without the `server.` prefix. */
export type ServerErrorCode = keyof typeof ServerErrors.codes;
