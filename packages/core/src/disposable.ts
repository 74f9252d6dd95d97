/**
 * Disposables: one way to release what something holds (listeners, timers, processes).
 */

/** Something that holds a resource until disposed. Disposing twice is harmless. */
export interface Disposable {
  dispose(): void;
}

/** Wraps a function as a Disposable that runs it at most once. */
export function toDisposable(fn: () => void): Disposable {
  let done = false;
  return {
    dispose() {
      if (done) return;
      done = true;
      fn();
    },
  };
}

/** Holds many disposables and disposes them together, last added first. */
export class DisposableStore implements Disposable {
  private items: Disposable[] = [];
  private disposed = false;

  /** True once {@link dispose} has run. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Adds `d`; if the store is already disposed, disposes `d` at once. */
  add<T extends Disposable>(d: T): T {
    if (this.disposed) d.dispose();
    else this.items.push(d);
    return d;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const errors: unknown[] = [];
    for (const d of this.items.reverse()) {
      try {
        d.dispose();
      } catch (e) {
        errors.push(e);
      }
    }
    this.items = [];
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'Several disposables failed.');
  }
}
