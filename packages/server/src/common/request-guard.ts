/**
 * Host and Origin checks that keep other web sites out of the daemon. A page on evil.example can
 * make the browser send requests to 127.0.0.1 (cross-site requests) or resolve its own name to
 * 127.0.0.1 (DNS rebinding); both are refused here, before authentication and before any body is
 * read.
 */
import { ServerErrors } from '../errors.js';
import type { VirtosError } from '@virtos/core';

/** Where the daemon listens: the names the browser may use to reach it. */
export interface ListenIdentity {
  /** The address the daemon listens on, e.g. 127.0.0.1 (or what `--host` named). */
  readonly host: string;
  /** The bound port (after listen; the configured one before). */
  readonly port: number;
  /** True when the daemon serves HTTPS: its origins are `https://…`. */
  readonly tls?: boolean;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return (
    host === 'localhost' || host === '::1' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host)
  );
}

/** The `host:port` values a request's Host header may carry. */
export function allowedHostHeaders(id: ListenIdentity): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  const bare = id.host.includes(':') && !id.host.startsWith('[') ? `[${id.host}]` : id.host;
  names.add(bare);
  return new Set([...names].map((n) => `${n}:${id.port}`.toLowerCase()));
}

/** The origins the daemon's own pages have (`http://host:port`, or `https://` with TLS). */
export function allowedOrigins(id: ListenIdentity): Set<string> {
  const scheme = id.tls === true ? 'https' : 'http';
  return new Set([...allowedHostHeaders(id)].map((h) => `${scheme}://${h}`));
}

/** The headers the guard looks at. */
export interface GuardHeaders {
  readonly host?: string | undefined;
  readonly origin?: string | undefined;
  readonly secFetchSite?: string | undefined;
}

/**
 * Checks Host, Origin and Sec-Fetch-Site. Returns the error to send, or undefined when the request
 * may go on.
 */
export function checkRequestHeaders(h: GuardHeaders, id: ListenIdentity): VirtosError | undefined {
  // SECURITY: DNS rebinding. A hostile page whose name resolves to 127.0.0.1 sends its own name in
  // Host; only the literal loopback names (and an explicit --host) with our port are accepted, so
  // such a request never reaches a route. HTTP/1.1 requires Host, so a missing one is refused too.
  const host = h.host?.toLowerCase();
  if (host === undefined || !allowedHostHeaders(id).has(host)) {
    return ServerErrors.create(
      'bad_host',
      `Refused a request for host "${h.host ?? ''}": this daemon answers only to its own address.`,
      { hint: `Use ${id.tls === true ? 'https' : 'http'}://127.0.0.1:${id.port}/.` },
    );
  }
  // SECURITY: cross-site requests. Browsers send Origin on cross-origin requests (and on every
  // POST); it must be the daemon's own origin. Sec-Fetch-Site, when a browser sends it, must not be
  // cross-site or same-site (another port of the same host is "same-site" but another origin).
  if (h.origin !== undefined && !allowedOrigins(id).has(h.origin.toLowerCase())) {
    return ServerErrors.create('bad_origin', `Refused a request from origin "${h.origin}".`, {
      hint: 'Only the VirtOS shell served by this daemon may call its API.',
    });
  }
  const site = h.secFetchSite?.toLowerCase();
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return ServerErrors.create('bad_origin', `Refused a ${site} request.`, {
      hint: 'Only the VirtOS shell served by this daemon may call its API.',
    });
  }
  return undefined;
}
