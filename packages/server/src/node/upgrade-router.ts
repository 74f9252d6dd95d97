/**
 * WebSocket upgrades for other packages (the streaming gateway mounts `/streams/<env>` here). The
 * router applies the same Host, Origin and session checks as HTTP routes before it hands the socket
 * to a handler, so a plugin cannot forget them.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody, httpStatusFor } from '../common/http-status.js';
import { checkRequestHeaders, type ListenIdentity } from '../common/request-guard.js';
import { ServerErrors } from '../errors.js';
import { bearerToken } from './app.js';
import type { SessionManager } from './session-manager.js';
import type { VirtosError } from '@virtos/core';

/** Handles one authenticated upgrade request (e.g. a `ws` server's `handleUpgrade`). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * How an upgrade proves its session. Browsers cannot set Authorization on a WebSocket, so a handler
 * may also accept its own short-lived token (the gateway's stream tokens) by returning true here.
 */
export type UpgradeAuthenticator = (req: IncomingMessage) => boolean;

/** Routes `upgrade` events of the daemon's HTTP server by path prefix. */
export class UpgradeRouter {
  private readonly routes: {
    prefix: string;
    handler: UpgradeHandler;
    authenticate?: UpgradeAuthenticator;
  }[] = [];

  constructor(
    private readonly identity: () => ListenIdentity,
    private readonly sessions: SessionManager,
  ) {}

  /**
   * Registers a handler for upgrade requests whose path starts with `pathPrefix` (e.g.
   * `/streams/`). Without `authenticate`, the request must carry a session bearer token.
   */
  register(pathPrefix: string, handler: UpgradeHandler, authenticate?: UpgradeAuthenticator): void {
    this.routes.push({ prefix: pathPrefix, handler, ...(authenticate && { authenticate }) });
  }

  /** Listens for upgrades on `server`. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.handle(req, socket, head),
    );
  }

  private handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = this.routes.find((r) => path.startsWith(r.prefix));
    if (!route) {
      return refuse(socket, ServerErrors.create('no_such_route', `No WebSocket route ${path}.`));
    }
    const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
    // SECURITY: the same DNS-rebinding and cross-site checks as every HTTP route; WebSockets are
    // not subject to CORS, so the Origin check is the only thing stopping another site here.
    const guard = checkRequestHeaders(
      {
        host: req.headers.host,
        origin: one(req.headers.origin),
        secFetchSite: one(req.headers['sec-fetch-site']),
      },
      this.identity(),
    );
    if (guard) return refuse(socket, guard);
    // SECURITY: a session token, or the handler's own check of its short-lived token.
    const ok = route.authenticate
      ? route.authenticate(req)
      : this.sessions.verify(bearerToken(req as unknown as { headers: Record<string, unknown> }));
    if (!ok) {
      return refuse(
        socket,
        ServerErrors.create('unauthenticated', 'This WebSocket needs a valid token.'),
      );
    }
    route.handler(req, socket, head);
  }
}

function refuse(socket: Duplex, e: VirtosError): void {
  const body = JSON.stringify(errorBody(e));
  socket.end(
    `HTTP/1.1 ${httpStatusFor(e)} Refused\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
