/**
 * What the viewer does when a stream closes: the gateway's close codes (docs/gateway.md, "Close
 * codes") mapped to a message for the overlay and a reconnect policy, plus the bounded backoff.
 */

/** How the viewer reacts to a close. */
export type ReconnectPolicy =
  /** Retry with a fresh token, with backoff (network blip, daemon restarting). */
  | 'retry'
  /** Retry once; a second close of the same kind stops. */
  | 'once'
  /** Stop; the user may press Reconnect. */
  | 'manual'
  /** Stop for good (the environment is gone or suspended). */
  | 'never';

/** One close, explained. */
export interface CloseVerdict {
  /** Short text for the overlay. */
  readonly message: string;
  readonly policy: ReconnectPolicy;
  /** The environment left `running` (suspended/terminated): the window should say so. */
  readonly isEnvironmentGone: boolean;
  readonly state: 'suspended' | 'terminated' | 'disconnected' | 'error';
}

/**
 * Explains a WebSocket close. `opened` is false when the socket closed before `open` (the upgrade
 * was refused: browsers hide the HTTP status and report 1006).
 */
export function explainClose(code: number, reason: string, opened: boolean): CloseVerdict {
  const safe = reason.slice(0, 120);
  const v = (
    message: string,
    policy: ReconnectPolicy,
    state: CloseVerdict['state'] = 'disconnected',
  ): CloseVerdict => ({
    message,
    policy,
    state,
    isEnvironmentGone: state === 'suspended' || state === 'terminated',
  });
  if (!opened) return v('Cannot connect: the stream was refused.', 'once', 'error');
  switch (code) {
    case 1000:
      return v('Disconnected.', 'manual');
    case 1001:
      return v('The daemon is shutting down.', 'retry');
    case 1002:
      return v(`Protocol error${safe ? `: ${safe}` : ''}. Please report this.`, 'never', 'error');
    case 1009:
      return v('A message to the environment was too large.', 'manual', 'error');
    case 4001:
      return v('The environment was suspended. Resume it to reconnect.', 'never', 'suspended');
    case 4002:
      return v('The environment was terminated.', 'never', 'terminated');
    case 4003:
      return v('Disconnected (idle).', 'manual');
    case 4004:
      return v('The display server closed the connection.', 'once');
    case 4005:
      return v('The display server could not be reached.', 'once', 'error');
    case 4006:
      return v('The connection stopped answering.', 'retry');
    case 4007:
      return v(safe || 'Closed by the daemon.', 'manual');
    default:
      // 1006 after open and anything unknown: a network blip.
      return v('Connection lost.', 'retry');
  }
}

/** Bounded exponential backoff with jitter: 0.5 s, 1 s, 2 s, 4 s, 8 s, then stop. */
export const BACKOFF = { baseMs: 500, maxMs: 8_000, maxAttempts: 6 } as const;

/**
 * Delay before reconnect attempt `attempt` (0-based), or undefined when the viewer should give
 * up. `rand` in [0, 1) spreads reconnects of many windows (±20 %).
 */
export function backoffDelay(attempt: number, rand: number = Math.random()): number | undefined {
  if (attempt >= BACKOFF.maxAttempts) return undefined;
  const d = Math.min(BACKOFF.maxMs, BACKOFF.baseMs * 2 ** attempt);
  return Math.round(d * (0.8 + 0.4 * rand));
}
