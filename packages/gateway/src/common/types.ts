/** Types shared by the gateway and its callers (the daemon, the runtime's display endpoints). */

/** Protocols the gateway proxies today. SPICE and RDP would be added here (docs/gateway.md). */
export type StreamProtocol = 'rfb' | 'pty';

/**
 * Where an environment's display (or terminal) is reached: a Unix socket on this host. The resolver
 * returns it from the runtime driver's `display()`; the client never names it.
 */
export interface StreamEndpoint {
  /** `rfb`: a VNC server (Xvnc, QEMU's VNC); `pty`: a PTY bridge speaking docs/gateway.md framing. */
  readonly protocol: StreamProtocol;
  /** Absolute path of the Unix socket. */
  readonly socketPath: string;
}

/**
 * Looks up the endpoint of an environment, or undefined when it has none (not running, no display).
 * The signal aborts when the client goes away or the lookup takes too long.
 */
export type StreamEndpointResolver = (
  envId: string,
  signal: AbortSignal,
) => Promise<StreamEndpoint | undefined>;

/** Input-to-update latency figures of a stream, ms. */
export interface LatencySummary {
  readonly last: number;
  readonly p50: number;
  readonly p99: number;
  readonly samples: number;
}

/**
 * A snapshot of one stream's metrics, JSON-serialisable. The daemon serves these to the client
 * overlay (noVNC owns the WebSocket, so stats travel over a separate GET).
 */
export interface StreamStats {
  /** Stream id (`stream_…`), unique per daemon run. */
  readonly id: string;
  readonly envId: string;
  readonly sessionId: string;
  readonly protocol: StreamProtocol;
  /** When the stream opened, ms since the Unix epoch. */
  readonly openedAt: number;
  readonly durationMs: number;
  /** Bytes sent to the browser / received from it (payload bytes, without WebSocket framing). */
  readonly bytesToClient: number;
  readonly bytesFromClient: number;
  /** Bytes per second in the last complete second. */
  readonly bytesToClientPerSecond: number;
  readonly bytesFromClientPerSecond: number;
  /** RFB FramebufferUpdate messages from the server (0 for pty). */
  readonly framebufferUpdates: number;
  /** FramebufferUpdates in the last complete second. */
  readonly updatesPerSecond: number;
  /** User input events seen from the client (keys, pointer, clipboard; pty: input frames). */
  readonly inputEvents: number;
  /** Last WebSocket ping round trip, ms (null before the first pong). */
  readonly rttMs: number | null;
  /** Time from a key or pointer event to the next FramebufferUpdate (null without samples). */
  readonly inputToUpdateMs: LatencySummary | null;
  /** Bytes accepted but not yet flushed, per direction (bounded by the high-water mark). */
  readonly bufferedToClient: number;
  readonly bufferedToEndpoint: number;
  /** Times a direction was paused because the other side was slow. */
  readonly pausesForClient: number;
  readonly pausesForEndpoint: number;
  /** False when the RFB observer lost track of message boundaries (metrics stop, bytes still flow). */
  readonly parserSynced: boolean;
}
