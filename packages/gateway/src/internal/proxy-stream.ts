/**
 * One open stream: a browser WebSocket joined to an environment's Unix socket, with flow control in
 * both directions, idle and liveness timers, and metrics.
 */
import type { Socket } from 'node:net';
import type { Clock, Disposable, Logger } from '@virtos/core';
import type { RawData, WebSocket } from 'ws';
import { CLOSE_CODES } from '../common/close-codes.js';
import {
  PTY_FRAME_CONTROL,
  PTY_FRAME_DATA,
  PtyFrameDecoder,
  encodePtyFrame,
  encodePtyResize,
  parseClientResize,
} from '../common/pty-protocol.js';
import type { StreamProtocol, StreamStats } from '../common/types.js';
import { RateMeter, SampleWindow } from './meters.js';
import { RfbObserver } from './rfb-observer.js';

/** Limits of one stream, resolved from the gateway's options. */
export interface StreamLimits {
  /** Bytes in flight per direction before the sending side is paused. */
  readonly highWaterMarkBytes: number;
  /** Close after this long without user input (ms). */
  readonly idleTimeoutMs: number;
  /** Ping the client this often (ms); two missed pongs close the stream. */
  readonly pingIntervalMs: number;
}

/** Everything a stream needs from the gateway. */
export interface ProxyStreamInit {
  readonly id: string;
  readonly envId: string;
  readonly sessionId: string;
  readonly protocol: StreamProtocol;
  readonly ws: WebSocket;
  readonly upstream: Socket;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits: StreamLimits;
  readonly onClosed: (stream: ProxyStream, code: number) => void;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** A WebSocket close reason must fit in 123 bytes. */
function clampReason(reason: string): string {
  let r = reason;
  while (Buffer.byteLength(r, 'utf8') > 123) r = r.slice(0, -1);
  return r;
}

/** One proxied stream. Created by the gateway after every check passed. */
export class ProxyStream {
  readonly id: string;
  readonly envId: string;
  readonly sessionId: string;
  readonly protocol: StreamProtocol;
  private readonly ws: WebSocket;
  private readonly upstream: Socket;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly limits: StreamLimits;
  private readonly onClosed: ProxyStreamInit['onClosed'];
  private readonly openedAt: number;
  private readonly openedMono: number;
  private readonly observer: RfbObserver | undefined;
  private readonly ptyDecoder: PtyFrameDecoder | undefined;

  private bytesToClient = 0;
  private bytesFromClient = 0;
  private readonly toClientRate = new RateMeter();
  private readonly fromClientRate = new RateMeter();
  private readonly updateRate = new RateMeter();
  private updates = 0;
  private inputs = 0;
  private pendingInputAt: number | undefined;
  private readonly inputLatency = new SampleWindow(512);
  private rtt: number | undefined;
  private pingSentAt: number | undefined;
  private missedPongs = 0;
  private lastInputAt: number;
  private inFlightToClient = 0;
  private isUpstreamPaused = false;
  private isClientPaused = false;
  private pausesForClient = 0;
  private pausesForEndpoint = 0;
  private idleTimer: Disposable | undefined;
  private pingTimer: Disposable | undefined;
  private isClosed = false;

  constructor(init: ProxyStreamInit) {
    this.id = init.id;
    this.envId = init.envId;
    this.sessionId = init.sessionId;
    this.protocol = init.protocol;
    this.ws = init.ws;
    this.upstream = init.upstream;
    this.clock = init.clock;
    this.logger = init.logger;
    this.limits = init.limits;
    this.onClosed = init.onClosed;
    this.openedAt = this.clock.now();
    this.openedMono = this.clock.monotonic();
    this.lastInputAt = this.openedMono;
    if (this.protocol === 'rfb') {
      this.observer = new RfbObserver({
        onFramebufferUpdate: () => this.onFramebufferUpdate(),
        onInput: () => this.onInput(),
      });
    } else {
      this.ptyDecoder = new PtyFrameDecoder();
    }
  }

  /** Wires both directions and starts the timers. */
  start(): void {
    const { ws, upstream } = this;
    upstream.on('data', (chunk: Buffer) => this.onUpstreamData(chunk));
    upstream.on('end', () =>
      this.close(CLOSE_CODES.endpointClosed, 'The display server closed the connection.'),
    );
    upstream.on('close', () =>
      this.close(CLOSE_CODES.endpointClosed, 'The display server closed the connection.'),
    );
    upstream.on('error', (e) => {
      this.logger.warn('stream endpoint error', {
        stream: this.id,
        env: this.envId,
        error: e.message,
      });
      this.close(CLOSE_CODES.endpointError, 'The connection to the display server failed.');
    });
    upstream.on('drain', () => this.maybeResumeClient());
    ws.on('message', (data, isBinary) => this.onClientMessage(toBuffer(data), isBinary));
    ws.on('pong', () => {
      this.missedPongs = 0;
      if (this.pingSentAt !== undefined) this.rtt = this.clock.monotonic() - this.pingSentAt;
      this.pingSentAt = undefined;
    });
    ws.on('close', () => this.close(CLOSE_CODES.normal, 'Client closed the stream.'));
    ws.on('error', (e) => {
      this.logger.debug('stream client error', { stream: this.id, error: e.message });
      this.close(CLOSE_CODES.protocolError, 'WebSocket error.');
    });
    this.armIdle(this.limits.idleTimeoutMs);
    this.armPing();
    // Send a first ping at once so the overlay has an RTT within a round trip.
    this.ping();
  }

  /**
   * Ends the stream with `code` and a user-visible `reason`, releases the endpoint socket and the
   * timers. Idempotent.
   */
  close(code: number, reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.idleTimer?.dispose();
    this.pingTimer?.dispose();
    this.upstream.destroy();
    const ws = this.ws;
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      ws.close(code, clampReason(reason));
      // A client that never answers the close handshake must not hold the socket.
      const t = this.clock.setTimeout(() => ws.terminate(), 5_000);
      ws.once('close', () => t.dispose());
    }
    this.logger.info('stream closed', { stream: this.id, env: this.envId, code, reason });
    this.onClosed(this, code);
  }

  /** The stream's metrics now. */
  stats(): StreamStats {
    const now = this.clock.monotonic();
    const lat = this.inputLatency;
    return {
      id: this.id,
      envId: this.envId,
      sessionId: this.sessionId,
      protocol: this.protocol,
      openedAt: this.openedAt,
      durationMs: now - this.openedMono,
      bytesToClient: this.bytesToClient,
      bytesFromClient: this.bytesFromClient,
      bytesToClientPerSecond: this.toClientRate.rate(now),
      bytesFromClientPerSecond: this.fromClientRate.rate(now),
      framebufferUpdates: this.updates,
      updatesPerSecond: this.updateRate.rate(now),
      inputEvents: this.inputs,
      rttMs: this.rtt ?? null,
      inputToUpdateMs:
        lat.count === 0
          ? null
          : {
              last: lat.last ?? 0,
              p50: lat.percentile(50) ?? 0,
              p99: lat.percentile(99) ?? 0,
              samples: lat.count,
            },
      bufferedToClient: this.inFlightToClient,
      bufferedToEndpoint: this.upstream.writableLength,
      pausesForClient: this.pausesForClient,
      pausesForEndpoint: this.pausesForEndpoint,
      parserSynced: this.observer?.isSynced ?? true,
    };
  }

  // --- endpoint -> client -------------------------------------------------------------------

  private onUpstreamData(chunk: Buffer): void {
    if (this.isClosed) return;
    if (this.observer) {
      this.observer.fromServer(chunk);
      this.sendToClient(chunk, true);
      return;
    }
    let frames;
    try {
      frames = this.ptyDecoder?.feed(chunk) ?? [];
    } catch {
      this.close(CLOSE_CODES.endpointError, 'The terminal bridge sent an invalid frame.');
      return;
    }
    for (const f of frames) {
      if (f.type === PTY_FRAME_DATA) this.sendToClient(Buffer.from(f.payload), true);
      else if (f.type === PTY_FRAME_CONTROL) this.onBridgeControl(f.payload);
    }
  }

  private onBridgeControl(payload: Uint8Array): void {
    let msg: unknown;
    try {
      msg = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      return;
    }
    const o = msg as Record<string, unknown> | null;
    // SECURITY: only known control messages reach the browser, re-serialised from checked fields.
    if (o && o['type'] === 'exit' && Number.isInteger(o['code'])) {
      this.sendToClient(Buffer.from(JSON.stringify({ type: 'exit', code: o['code'] })), false);
    }
  }

  private sendToClient(data: Buffer, isBinary: boolean): void {
    const n = data.length;
    this.bytesToClient += n;
    this.toClientRate.add(n, this.clock.monotonic());
    this.inFlightToClient += n;
    this.ws.send(data, { binary: isBinary }, () => {
      this.inFlightToClient -= n;
      this.maybeResumeUpstream();
    });
    // SECURITY (memory): stop reading the display server while the browser is behind, so a slow
    // client costs at most the high-water mark plus one socket read.
    if (!this.isUpstreamPaused && this.inFlightToClient > this.limits.highWaterMarkBytes) {
      this.isUpstreamPaused = true;
      this.pausesForClient++;
      this.upstream.pause();
    }
  }

  private maybeResumeUpstream(): void {
    if (this.isUpstreamPaused && this.inFlightToClient <= this.limits.highWaterMarkBytes / 2) {
      this.isUpstreamPaused = false;
      if (!this.isClosed) this.upstream.resume();
    }
  }

  private onFramebufferUpdate(): void {
    const now = this.clock.monotonic();
    this.updates++;
    this.updateRate.add(1, now);
    if (this.pendingInputAt !== undefined) {
      this.inputLatency.add(now - this.pendingInputAt);
      this.pendingInputAt = undefined;
    }
  }

  // --- client -> endpoint -------------------------------------------------------------------

  private onClientMessage(data: Buffer, isBinary: boolean): void {
    if (this.isClosed) return;
    if (this.protocol === 'rfb') {
      if (!isBinary) {
        this.close(CLOSE_CODES.protocolError, 'Text frames are not accepted on an RFB stream.');
        return;
      }
      this.countFromClient(data.length);
      this.observer?.fromClient(data);
      this.writeUpstream(data);
      return;
    }
    if (isBinary) {
      this.countFromClient(data.length);
      this.onInput();
      for (let off = 0; off < data.length; off += 65_536) {
        this.writeUpstream(encodePtyFrame(PTY_FRAME_DATA, data.subarray(off, off + 65_536)));
      }
      return;
    }
    // SECURITY: the only text frame a terminal client may send is a resize with bounded integers;
    // it is re-encoded by the gateway, never forwarded as the client wrote it.
    const resize = parseClientResize(data.toString('utf8'));
    if (!resize) {
      this.close(CLOSE_CODES.protocolError, 'Unknown control message on a terminal stream.');
      return;
    }
    this.countFromClient(data.length);
    this.writeUpstream(encodePtyResize(resize.cols, resize.rows));
  }

  private countFromClient(n: number): void {
    this.bytesFromClient += n;
    this.fromClientRate.add(n, this.clock.monotonic());
  }

  private writeUpstream(data: Uint8Array): void {
    this.upstream.write(data);
    // SECURITY (memory): stop reading the browser while the display server is behind.
    if (!this.isClientPaused && this.upstream.writableLength > this.limits.highWaterMarkBytes) {
      this.isClientPaused = true;
      this.pausesForEndpoint++;
      this.ws.pause();
    }
  }

  private maybeResumeClient(): void {
    if (this.isClientPaused && this.upstream.writableLength <= this.limits.highWaterMarkBytes / 2) {
      this.isClientPaused = false;
      if (!this.isClosed) this.ws.resume();
    }
  }

  private onInput(): void {
    const now = this.clock.monotonic();
    this.inputs++;
    this.lastInputAt = now;
    if (this.pendingInputAt === undefined) this.pendingInputAt = now;
  }

  // --- timers -------------------------------------------------------------------------------

  private armIdle(ms: number): void {
    this.idleTimer = this.clock.setTimeout(() => {
      const idleFor = this.clock.monotonic() - this.lastInputAt;
      if (idleFor >= this.limits.idleTimeoutMs) {
        this.close(
          CLOSE_CODES.idleTimeout,
          `Closed after ${Math.round(this.limits.idleTimeoutMs / 1000)} s without input.`,
        );
      } else {
        this.armIdle(this.limits.idleTimeoutMs - idleFor);
      }
    }, ms);
  }

  private armPing(): void {
    this.pingTimer = this.clock.setTimeout(() => {
      if (this.isClosed) return;
      if (this.pingSentAt !== undefined && ++this.missedPongs >= 2) {
        this.close(CLOSE_CODES.clientUnresponsive, 'The client stopped answering pings.');
        this.ws.terminate();
        return;
      }
      this.ping();
      this.armPing();
    }, this.limits.pingIntervalMs);
  }

  private ping(): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.pingSentAt === undefined) this.pingSentAt = this.clock.monotonic();
    this.ws.ping();
  }
}
