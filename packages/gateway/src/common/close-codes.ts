/**
 * WebSocket close codes the gateway sends once a stream is open. 4000-4999 are private-use codes
 * (RFC 6455 §7.4.2); the reason text is short, human-readable and safe to show to the user.
 */
export const CLOSE_CODES = {
  /** The client or the gateway ended the stream normally. */
  normal: 1000,
  /** The gateway (daemon) is shutting down. */
  goingAway: 1001,
  /** The client sent something the stream does not accept (a text frame on RFB, bad control). */
  protocolError: 1002,
  /** A client frame exceeded the maximum message size. */
  messageTooBig: 1009,
  /** The environment was suspended; reconnect after resuming with a fresh token. */
  environmentSuspended: 4001,
  /** The environment was terminated; do not reconnect. */
  environmentTerminated: 4002,
  /** No user input for the idle timeout. */
  idleTimeout: 4003,
  /** The environment's display server closed the connection (e.g. it restarted). */
  endpointClosed: 4004,
  /** The display server connection failed with an error. */
  endpointError: 4005,
  /** The client stopped answering pings. */
  clientUnresponsive: 4006,
  /** The environment's display was closed for another reason given in the message. */
  environmentClosed: 4007,
} as const;

/** A name of {@link CLOSE_CODES}. */
export type CloseCodeName = keyof typeof CLOSE_CODES;

/** Why `closeEnvironment` ends the streams of an environment. */
export type EnvironmentCloseReason = 'suspended' | 'terminated' | 'other';

/** The close code for an environment-level close reason. */
export function closeCodeForReason(reason: EnvironmentCloseReason): number {
  switch (reason) {
    case 'suspended':
      return CLOSE_CODES.environmentSuspended;
    case 'terminated':
      return CLOSE_CODES.environmentTerminated;
    default:
      return CLOSE_CODES.environmentClosed;
  }
}
