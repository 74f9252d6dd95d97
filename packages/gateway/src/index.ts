/**
 * @module @virtos/gateway
 * The Streaming Gateway: short-lived stream tokens, and a WebSocket proxy from the browser to an
 * environment's display (RFB/VNC) or terminal (PTY bridge) on a Unix socket, with flow control,
 * limits and per-stream metrics. The daemon mounts it on its HTTP server's `upgrade` event; see
 * docs/gateway.md.
 */
export { CLOSE_CODES, closeCodeForReason } from './common/close-codes.js';
export type { CloseCodeName, EnvironmentCloseReason } from './common/close-codes.js';
export { GatewayErrors, httpStatusFor } from './common/errors.js';
export type { GatewayErrorCode } from './common/errors.js';
export {
  PTY_FRAME_CONTROL,
  PTY_FRAME_DATA,
  PTY_MAX_DIMENSION,
  PTY_MAX_PAYLOAD,
  PtyFrameDecoder,
  encodePtyFrame,
  encodePtyResize,
  parseClientResize,
} from './common/pty-protocol.js';
export type { PtyFrame, PtyResize } from './common/pty-protocol.js';
export { renderPrometheus } from './common/prometheus.js';
export type { PrometheusFamily, PrometheusSample } from './common/prometheus.js';
export type {
  LatencySummary,
  StreamEndpoint,
  StreamEndpointResolver,
  StreamProtocol,
  StreamStats,
} from './common/types.js';
export { StreamGateway } from './node/stream-gateway.js';
export type { StreamGatewayOptions } from './node/stream-gateway.js';
export { StreamTokenService } from './node/stream-token-service.js';
export type {
  IssuedStreamToken,
  StreamTokenGrant,
  StreamTokenServiceOptions,
} from './node/stream-token-service.js';
