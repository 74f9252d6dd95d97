/**
 * The Streaming Gateway: the daemon hands it every HTTP `upgrade` whose path starts with
 * `/streams/`; it checks the Origin and the stream token, asks the resolver for the environment's
 * endpoint, connects to that Unix socket, and only then completes the WebSocket handshake.
 */
import { lstat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { isAbsolute, normalize } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Clock, Logger, VirtosError } from '@virtos/core';
import { newId, nullLogger, systemClock, toVirtosError } from '@virtos/core';
import { WebSocketServer } from 'ws';
import type { EnvironmentCloseReason } from '../common/close-codes.js';
import { CLOSE_CODES, closeCodeForReason } from '../common/close-codes.js';
import { GatewayErrors, httpStatusFor } from '../common/errors.js';
import type { PrometheusFamily } from '../common/prometheus.js';
import { renderPrometheus } from '../common/prometheus.js';
import type { StreamEndpoint, StreamEndpointResolver, StreamStats } from '../common/types.js';
import { ProxyStream } from '../internal/proxy-stream.js';
import type { StreamTokenService } from './stream-token-service.js';

/** Options of {@link StreamGateway}. Durations in ms, sizes in bytes. */
export interface StreamGatewayOptions {
  /** Issues and consumes stream tokens; the daemon's API shares the same instance. */
  readonly tokens: StreamTokenService;
  /** Finds an environment's endpoint. The only source of socket paths. */
  readonly resolveEndpoint: StreamEndpointResolver;
  /**
   * The daemon's own origins, e.g. `['http://127.0.0.1:7777']`. Exact match after URL
   * normalisation; never derived from the request's Host header (DNS rebinding sends a Host the
   * attacker chose).
   */
  readonly allowedOrigins: readonly string[];
  /** URL path prefix (default `/streams/`). */
  readonly pathPrefix?: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Maximum open streams per daemon (default 256). */
  readonly maxStreams?: number;
  /** Bytes in flight per stream and direction before the sender is paused (default 1 MiB). */
  readonly highWaterMarkBytes?: number;
  /** Close a stream after this long without user input (default 30 min). */
  readonly idleTimeoutMs?: number;
  /** WebSocket ping interval (default 15 s); two missed pongs close the stream. */
  readonly pingIntervalMs?: number;
  /** Largest WebSocket message a client may send (default 4 MiB, room for clipboard text). */
  readonly maxClientMessageBytes?: number;
  /** Time allowed to resolve and connect the endpoint (default 5 s). */
  readonly connectTimeoutMs?: number;
}

/** Counters kept across streams, for `/metrics`. */
interface Totals {
  opened: number;
  refused: Map<string, number>;
  closed: Map<number, number>;
  bytesToClient: number;
  bytesFromClient: number;
}

/**
 * Env ids as they may appear in the URL: letters, digits, `_` and `-`, 1-64 characters. No dots,
 * slashes or percent signs, so nothing in the path can be traversal or encoding tricks.
 */
const ENV_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** The Streaming Gateway. One per daemon. */
export class StreamGateway {
  private readonly options: StreamGatewayOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly prefix: string;
  private readonly allowedOrigins: ReadonlySet<string>;
  private readonly maxStreams: number;
  private readonly wss: WebSocketServer;
  private readonly streams = new Map<string, ProxyStream>();
  private pending = 0;
  private isClosed = false;
  private readonly totals: Totals = {
    opened: 0,
    refused: new Map(),
    closed: new Map(),
    bytesToClient: 0,
    bytesFromClient: 0,
  };

  constructor(options: StreamGatewayOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? nullLogger;
    this.prefix = options.pathPrefix ?? '/streams/';
    this.maxStreams = options.maxStreams ?? 256;
    this.allowedOrigins = new Set(options.allowedOrigins.map(normaliseOrigin).filter(isString));
    if (this.allowedOrigins.size === 0) {
      throw GatewayErrors.create(
        'invalid_request',
        'The gateway needs at least one allowed origin.',
        {
          hint: "Pass the daemon's own origin, e.g. allowedOrigins: ['http://127.0.0.1:7777'].",
        },
      );
    }
    this.wss = new WebSocketServer({
      noServer: true,
      // SECURITY (memory): RFB payloads are already compressed; deflate would cost memory per
      // stream and open decompression bombs.
      perMessageDeflate: false,
      maxPayload: options.maxClientMessageBytes ?? 4 * 1024 * 1024,
      // noVNC asks for `binary`; answer it when offered, otherwise no subprotocol.
      handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
    });
  }

  /**
   * Handles an HTTP `upgrade` event. Returns false, touching nothing, when the path is not under the
   * gateway's prefix (the daemon handles it); otherwise takes over the socket and returns true.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = req.url ?? '';
    if (!url.startsWith(this.prefix)) return false;
    socket.on('error', () => socket.destroy());
    this.pending++;
    void this.accept(req, socket, head)
      .catch((e: unknown) => this.refuse(socket, toVirtosError(e), undefined))
      .finally(() => this.pending--);
    return true;
  }

  /**
   * Closes every stream of an environment with a close code the client can show: 4001 suspended,
   * 4002 terminated, 4007 other. Call it before suspending or deleting the environment. Returns how
   * many streams were closed. Also revokes the environment's outstanding tokens.
   */
  closeEnvironment(envId: string, reason: EnvironmentCloseReason, message?: string): number {
    this.options.tokens.revokeEnvironment(envId);
    const text =
      message ??
      (reason === 'suspended'
        ? 'The environment was suspended.'
        : reason === 'terminated'
          ? 'The environment was terminated.'
          : 'The environment display was closed.');
    let n = 0;
    for (const s of [...this.streams.values()]) {
      if (s.envId === envId) {
        s.close(closeCodeForReason(reason), text);
        n++;
      }
    }
    return n;
  }

  /** Stats of open streams, of one environment when `envId` is given. For the daemon's GET. */
  stats(envId?: string): StreamStats[] {
    const out: StreamStats[] = [];
    for (const s of this.streams.values())
      if (envId === undefined || s.envId === envId) out.push(s.stats());
    return out;
  }

  /** Number of open streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Prometheus text lines for the daemon's `/metrics`. */
  metrics(): string {
    const stats = this.stats();
    const per = (
      name: string,
      help: string,
      type: 'counter' | 'gauge',
      pick: (s: StreamStats) => number | null,
    ): PrometheusFamily => ({
      name,
      help,
      type,
      samples: stats.flatMap((s) => {
        const v = pick(s);
        return v === null
          ? []
          : [{ labels: { env: s.envId, stream: s.id, protocol: s.protocol }, value: v }];
      }),
    });
    let toClient = this.totals.bytesToClient;
    let fromClient = this.totals.bytesFromClient;
    for (const s of stats) {
      toClient += s.bytesToClient;
      fromClient += s.bytesFromClient;
    }
    return renderPrometheus([
      {
        name: 'virtos_gateway_streams',
        help: 'Open streams.',
        type: 'gauge',
        samples: [{ value: stats.length }],
      },
      {
        name: 'virtos_gateway_streams_opened_total',
        help: 'Streams opened since start.',
        type: 'counter',
        samples: [{ value: this.totals.opened }],
      },
      {
        name: 'virtos_gateway_streams_refused_total',
        help: 'Upgrade requests refused, by error code.',
        type: 'counter',
        samples: [...this.totals.refused].map(([code, value]) => ({ labels: { code }, value })),
      },
      {
        name: 'virtos_gateway_streams_closed_total',
        help: 'Streams closed, by WebSocket close code.',
        type: 'counter',
        samples: [...this.totals.closed].map(([code, value]) => ({
          labels: { code: String(code) },
          value,
        })),
      },
      {
        name: 'virtos_gateway_bytes_total',
        help: 'Payload bytes proxied since start, by direction.',
        type: 'counter',
        samples: [
          { labels: { direction: 'to_client' }, value: toClient },
          { labels: { direction: 'from_client' }, value: fromClient },
        ],
      },
      per(
        'virtos_gateway_stream_bytes_to_client_total',
        'Bytes sent to the browser on this stream.',
        'counter',
        (s) => s.bytesToClient,
      ),
      per(
        'virtos_gateway_stream_bytes_from_client_total',
        'Bytes received from the browser on this stream.',
        'counter',
        (s) => s.bytesFromClient,
      ),
      per(
        'virtos_gateway_stream_framebuffer_updates_total',
        'RFB FramebufferUpdate messages on this stream.',
        'counter',
        (s) => s.framebufferUpdates,
      ),
      per(
        'virtos_gateway_stream_updates_per_second',
        'FramebufferUpdates in the last complete second.',
        'gauge',
        (s) => s.updatesPerSecond,
      ),
      per('virtos_gateway_stream_rtt_seconds', 'Last WebSocket ping round trip.', 'gauge', (s) =>
        s.rttMs === null ? null : s.rttMs / 1000,
      ),
      per(
        'virtos_gateway_stream_input_to_update_p50_seconds',
        'Median time from user input to the next FramebufferUpdate.',
        'gauge',
        (s) => (s.inputToUpdateMs ? s.inputToUpdateMs.p50 / 1000 : null),
      ),
      per(
        'virtos_gateway_stream_input_to_update_p99_seconds',
        '99th percentile time from user input to the next FramebufferUpdate.',
        'gauge',
        (s) => (s.inputToUpdateMs ? s.inputToUpdateMs.p99 / 1000 : null),
      ),
      per(
        'virtos_gateway_stream_buffered_bytes',
        'Bytes buffered towards the browser.',
        'gauge',
        (s) => s.bufferedToClient,
      ),
    ]);
  }

  /** Closes every stream (1001 going away) and refuses new ones. */
  close(): void {
    this.isClosed = true;
    for (const s of [...this.streams.values()])
      s.close(CLOSE_CODES.goingAway, 'The VirtOS daemon is shutting down.');
    this.wss.close();
  }

  // --- the upgrade path ---------------------------------------------------------------------

  private async accept(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = req.url ?? '';
    // SECURITY: parse the raw path without decoding; only `/streams/<env>?token=<t>` is accepted.
    const parsed = this.parseUrl(url);
    if (!parsed.ok) return this.refuse(socket, parsed.error, undefined);
    const { envId, token } = parsed;

    // SECURITY: cross-site WebSocket hijacking guard. Browsers always send Origin on WebSocket
    // upgrades and scripts cannot forge it; only the daemon's own pages may open streams.
    const origin = normaliseOrigin(headerValue(req.headers.origin));
    if (origin === undefined || !this.allowedOrigins.has(origin)) {
      return this.refuse(
        socket,
        GatewayErrors.create('origin_refused', `Stream for ${envId} refused: origin not allowed.`, {
          subject: envId,
          hint: 'Open the stream from the VirtOS shell served by this daemon.',
        }),
        envId,
      );
    }

    if (this.isClosed) {
      return this.refuse(
        socket,
        GatewayErrors.create('closed', 'The gateway is shutting down.'),
        envId,
      );
    }
    // SECURITY (resources): a hard cap on streams, counting ones still being set up.
    if (this.streams.size + this.pending > this.maxStreams) {
      return this.refuse(
        socket,
        GatewayErrors.create(
          'too_many_streams',
          `Stream for ${envId} refused: ${this.maxStreams} streams are open.`,
          {
            subject: envId,
            hint: 'Close other environment windows, or raise the gateway maxStreams limit.',
          },
        ),
        envId,
      );
    }

    // SECURITY: the token is consumed here (single use) and must be bound to this environment.
    const grant = this.options.tokens.consume(token, envId);
    if (!grant.ok) return this.refuse(socket, grant.error, envId);

    // SECURITY: the endpoint comes only from the resolver, keyed by the validated env id.
    const ac = new AbortController();
    const timer = this.clock.setTimeout(() => ac.abort(), this.options.connectTimeoutMs ?? 5_000);
    const onGone = () => ac.abort();
    socket.once('close', onGone);
    let upstream: Socket;
    let endpoint: StreamEndpoint;
    try {
      const found = await this.options.resolveEndpoint(envId, ac.signal);
      if (!found) {
        throw GatewayErrors.create(
          'endpoint_not_found',
          `Environment ${envId} has no display to stream.`,
          {
            subject: envId,
            hint: 'Start the environment and wait until it is running with a display.',
          },
        );
      }
      endpoint = await checkEndpoint(envId, found);
      upstream = await connectUnix(envId, endpoint.socketPath, ac.signal);
    } finally {
      timer.dispose();
      socket.off('close', onGone);
    }
    if (socket.destroyed || this.isClosed) {
      upstream.destroy();
      if (!socket.destroyed) socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = new ProxyStream({
        id: newId('stream'),
        envId,
        sessionId: grant.value.sessionId,
        protocol: endpoint.protocol,
        ws,
        upstream,
        clock: this.clock,
        logger: this.logger,
        limits: {
          highWaterMarkBytes: this.options.highWaterMarkBytes ?? 1024 * 1024,
          idleTimeoutMs: this.options.idleTimeoutMs ?? 30 * 60_000,
          pingIntervalMs: this.options.pingIntervalMs ?? 15_000,
        },
        onClosed: (s, code) => {
          if (this.streams.delete(s.id)) {
            const st = s.stats();
            this.totals.bytesToClient += st.bytesToClient;
            this.totals.bytesFromClient += st.bytesFromClient;
            this.totals.closed.set(code, (this.totals.closed.get(code) ?? 0) + 1);
          }
        },
      });
      this.streams.set(stream.id, stream);
      this.totals.opened++;
      this.logger.info('stream opened', {
        stream: stream.id,
        env: envId,
        protocol: endpoint.protocol,
      });
      stream.start();
    });
  }

  private parseUrl(
    url: string,
  ): { ok: true; envId: string; token: string | undefined } | { ok: false; error: VirtosError } {
    const bad = (why: string) => ({
      ok: false as const,
      error: GatewayErrors.create('invalid_request', `Bad stream URL: ${why}.`, {
        hint: 'Connect to /streams/<environment id>?token=<stream token> and nothing else.',
      }),
    });
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const envId = path.slice(this.prefix.length);
    if (!ENV_ID.test(envId)) return bad('the environment id is malformed');
    const params = new URLSearchParams(query);
    const keys = [...params.keys()];
    // SECURITY: no parameter other than one `token` is accepted, so nothing in the URL can name
    // a host, a port, a socket or a path.
    if (keys.some((k) => k !== 'token') || keys.length > 1)
      return bad('only the token parameter is allowed');
    return { ok: true, envId, token: params.get('token') ?? undefined };
  }

  private refuse(socket: Duplex, error: VirtosError, envId: string | undefined): void {
    const status = httpStatusFor(error.errorClass);
    this.totals.refused.set(error.code, (this.totals.refused.get(error.code) ?? 0) + 1);
    this.logger.info('stream refused', { env: envId, code: error.code });
    if (socket.destroyed) return;
    const body = JSON.stringify(error.toJSON());
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        'Connection: close\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Do not wait long for the peer: the refusal is complete once written.
    const t = this.clock.setTimeout(() => socket.destroy(), 1_000);
    socket.once('close', () => t.dispose());
  }
}

function isString(v: string | undefined): v is string {
  return v !== undefined;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}

/** `scheme://host[:port]` in URL-normalised form, or undefined (including for `null`). */
function normaliseOrigin(origin: string | undefined): string | undefined {
  if (!origin || origin === 'null') return undefined;
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return u.origin;
  } catch {
    return undefined;
  }
}

async function checkEndpoint(envId: string, endpoint: StreamEndpoint): Promise<StreamEndpoint> {
  if (endpoint.protocol !== 'rfb' && endpoint.protocol !== 'pty') {
    throw GatewayErrors.create(
      'unsupported_protocol',
      `Environment ${envId} streams ${String(endpoint.protocol)}, which the gateway does not proxy.`,
      {
        subject: envId,
        hint: 'The gateway proxies rfb and pty endpoints; see docs/gateway.md for SPICE and RDP.',
      },
    );
  }
  // SECURITY: the path must be absolute and normalised (the resolver is trusted, but a path built
  // from an id must never walk out of its directory) and must be a socket, not a symlink planted
  // inside the environment's shared directory.
  const path = endpoint.socketPath;
  const unavailable = (why: string) =>
    GatewayErrors.create(
      'endpoint_unavailable',
      `The display of ${envId} is unavailable: ${why}.`,
      {
        subject: envId,
        hint: 'Check that the environment is running; its display server may have exited.',
      },
    );
  if (typeof path !== 'string' || !isAbsolute(path) || normalize(path) !== path) {
    throw unavailable('its endpoint path is not absolute');
  }
  let st;
  try {
    st = await lstat(path);
  } catch {
    throw unavailable('its socket does not exist');
  }
  if (!st.isSocket()) throw unavailable('its endpoint is not a socket');
  return { protocol: endpoint.protocol, socketPath: path };
}

function connectUnix(envId: string, path: string, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const fail = () =>
      GatewayErrors.create('endpoint_unavailable', `Cannot connect to the display of ${envId}.`, {
        subject: envId,
        hint: 'The display server is not accepting connections; retry, or restart the environment.',
      });
    if (signal.aborted) return reject(fail());
    const s = createConnection({ path });
    const onAbort = () => {
      s.destroy();
      reject(fail());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    s.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      s.setNoDelay?.(true);
      resolve(s);
    });
    s.once('error', () => {
      signal.removeEventListener('abort', onAbort);
      reject(fail());
    });
  });
}
