/**
 * The shell's one stream of environment events. The daemon is plain HTTP/1.1 on loopback, where a
 * browser keeps at most 6 connections per origin; a long-lived stream per environment window and
 * per module watch would use them all and leave every later API call queued. So the shell follows
 * the daemon's all-environments stream (`GET /api/events`) once, while anyone listens, and fans
 * each event out to the subscribers that want its environment. A dropped stream is reopened with
 * backoff; subscribers hear `onOpen` after each (re)open so they can read what they missed from
 * the history routes. Locking closes the hub for good (the page reloads after a lock).
 */
import type { SseEnd, SseMessage } from '../modules/sse.js';

/** One environment event as the daemon streams it (`EnvironmentEvent`; the fields used here). */
export interface HubEvent {
  readonly envId: string;
  readonly seq?: number;
  readonly type?: string;
  readonly [field: string]: unknown;
}

/** Why a subscription ended for good. */
export type HubEnd =
  | { readonly kind: 'locked' }
  | { readonly kind: 'refused'; readonly status: number; readonly code: string };

/** A listener of the hub. */
export interface HubSubscriber {
  /** Only this environment's events; every environment's when absent. */
  readonly envId?: string;
  onEvent(e: HubEvent): void;
  /**
   * The stream is open: events from now on reach `onEvent`; anything earlier must be read from
   * the history (`GET /api/environments/:id/events?since=`). Runs after each (re)open, and soon
   * after subscribing when the stream is already open.
   */
  onOpen?(): void;
  /** No more events will come: the shell locked, or the daemon refused the stream. */
  onEnd?(end: HubEnd): void;
}

/** What environment windows and module brokers need from the hub. */
export interface EnvironmentEventFeed {
  subscribe(subscriber: HubSubscriber): { dispose(): void };
}

/** Follows an SSE stream (the shell passes `followSse` with its session). Never rejects. */
export type FollowFn = (
  path: string,
  onMessage: (m: SseMessage) => void,
  signal: AbortSignal,
  onOpen: () => void,
) => Promise<SseEnd>;

/** Timers, injected so tests drive the backoff without waiting. */
export interface HubTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Options of {@link EventHub}. */
export interface EventHubOptions {
  readonly follow: FollowFn;
  /** Default `/api/events` (the daemon's all-environments stream). */
  readonly path?: string;
  /** First reconnect delay, ms (doubles per failure up to `maxBackoffMs`). Default 500. */
  readonly backoffMs?: number;
  /** Longest reconnect delay, ms. Default 15 000. */
  readonly maxBackoffMs?: number;
  readonly timers?: HubTimers;
}

const realTimers: HubTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** A refusal that another try will not change (auth, bad request); 408/429 are worth a retry. */
function isFinalRefusal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** One shared, reconnecting event stream with per-environment fan-out. */
export class EventHub implements EnvironmentEventFeed {
  private readonly subscribers = new Set<HubSubscriber>();
  private readonly timers: HubTimers;
  private connection: AbortController | undefined;
  private retry: unknown;
  private failures = 0;
  private isClosed = false;
  private connectionCount = 0;
  private isStreamOpen = false;

  constructor(private readonly options: EventHubOptions) {
    this.timers = options.timers ?? realTimers;
  }

  /** True while the daemon's stream is open. */
  get isOpen(): boolean {
    return this.isStreamOpen;
  }

  /** How many streams this hub has opened so far (reconnects included). */
  get connections(): number {
    return this.connectionCount;
  }

  /** How many subscribers listen now. */
  get size(): number {
    return this.subscribers.size;
  }

  /**
   * Adds a subscriber; the stream opens with the first one and closes with the last. After
   * {@link close}, the subscriber hears `onEnd({kind: 'locked'})` at once.
   */
  subscribe(subscriber: HubSubscriber): { dispose(): void } {
    if (this.isClosed) {
      subscriber.onEnd?.({ kind: 'locked' });
      return { dispose: () => undefined };
    }
    this.subscribers.add(subscriber);
    if (this.isOpen) {
      queueMicrotask(() => {
        if (this.subscribers.has(subscriber) && this.isOpen) this.call(() => subscriber.onOpen?.());
      });
    } else if (!this.connection && this.retry === undefined) {
      this.connect();
    }
    return {
      dispose: () => {
        if (!this.subscribers.delete(subscriber)) return;
        if (this.subscribers.size === 0) this.stop();
      },
    };
  }

  /** Locks: the stream is aborted, every subscriber hears `locked`, no new one is served. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.stop();
    this.endAll({ kind: 'locked' });
  }

  private connect(): void {
    const ac = new AbortController();
    this.connection = ac;
    this.connectionCount += 1;
    const path = this.options.path ?? '/api/events';
    void this.options
      .follow(
        path,
        (m) => {
          if (this.connection === ac) this.dispatch(m);
        },
        ac.signal,
        () => {
          if (this.connection !== ac) return;
          this.isStreamOpen = true;
          this.failures = 0;
          for (const s of [...this.subscribers]) this.call(() => s.onOpen?.());
        },
      )
      .then((end) => {
        if (this.connection !== ac) return; // stopped on purpose
        this.connection = undefined;
        this.isStreamOpen = false;
        if (end.kind === 'refused' && isFinalRefusal(end.status)) {
          this.endAll({ kind: 'refused', status: end.status, code: end.code });
          return;
        }
        // Closed by the daemon (restart, lock elsewhere) or a network failure: try again. A
        // locked vault answers the next try with 401, which ends the subscribers above.
        this.failures += 1;
        const base = this.options.backoffMs ?? 500;
        const delay = Math.min(
          this.options.maxBackoffMs ?? 15_000,
          base * 2 ** (this.failures - 1),
        );
        this.retry = this.timers.set(() => {
          this.retry = undefined;
          if (!this.isClosed && this.subscribers.size > 0) this.connect();
        }, delay);
      });
  }

  /** Aborts the stream and any pending retry (no subscribers left, or locked). */
  private stop(): void {
    if (this.retry !== undefined) this.timers.clear(this.retry);
    this.retry = undefined;
    const ac = this.connection;
    this.connection = undefined;
    this.isStreamOpen = false;
    this.failures = 0;
    ac?.abort();
  }

  private endAll(end: HubEnd): void {
    const all = [...this.subscribers];
    this.subscribers.clear();
    for (const s of all) this.call(() => s.onEnd?.(end));
  }

  private dispatch(m: SseMessage): void {
    const d = m.data as Record<string, unknown> | null;
    if (!d || typeof d !== 'object' || typeof d['envId'] !== 'string') return;
    const e = d as HubEvent;
    for (const s of [...this.subscribers]) {
      if (s.envId !== undefined && s.envId !== e.envId) continue;
      if (this.subscribers.has(s)) this.call(() => s.onEvent(e));
    }
  }

  /** One subscriber's failure must not cut the others off. */
  private call(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      queueMicrotask(() => {
        throw e;
      });
    }
  }
}
