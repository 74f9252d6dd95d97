/**
 * Events in the VS Code style: a producer owns an {@link Emitter} and exposes its `event` as an
 * `onDidX` property; a listener subscribes and gets a Disposable back.
 */
import { toDisposable, type Disposable } from './disposable.js';

/** Subscribes a listener; dispose the result to unsubscribe. */
export type Event<T> = (listener: (e: T) => void) => Disposable;

/** The producing side of an event. */
export class Emitter<T> implements Disposable {
  private listeners = new Set<(e: T) => void>();
  private disposed = false;

  /** Called with the listener's error; by default the error is rethrown asynchronously. */
  constructor(private readonly onListenerError: (err: unknown) => void = rethrowLater) {}

  /** The event to expose to listeners. */
  readonly event: Event<T> = (listener) => {
    if (this.disposed) return toDisposable(() => {});
    const wrapped = (e: T) => listener(e);
    this.listeners.add(wrapped);
    return toDisposable(() => this.listeners.delete(wrapped));
  };

  /** Delivers `e` to every current listener; one failing listener does not stop the others. */
  fire(e: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  /** Number of current listeners. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
  }
}

function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}
