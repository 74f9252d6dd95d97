/**
 * A minimal observable value, compatible with Svelte's store contract (`subscribe` returning an
 * unsubscribe function), so plain TypeScript state can be read with `$store` in components and
 * tested without a DOM.
 */
export interface Readable<T> {
  subscribe(run: (value: T) => void): () => void;
}

/** A value with subscribers. */
export class Store<T> implements Readable<T> {
  private readonly subs = new Set<(value: T) => void>();
  constructor(private value: T) {}
  get(): T {
    return this.value;
  }
  set(value: T): void {
    this.value = value;
    for (const s of [...this.subs]) s(value);
  }
  update(fn: (value: T) => T): void {
    this.set(fn(this.value));
  }
  subscribe(run: (value: T) => void): () => void {
    this.subs.add(run);
    run(this.value);
    return () => this.subs.delete(run);
  }
}
