/**
 * Clock: time as a parameter, so core logic can be driven by tests without sleeping.
 */
import type { Disposable } from './disposable.js';

/** A source of time and timers. All durations in milliseconds. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** A monotonic reading in milliseconds, for measuring durations. */
  monotonic(): number;
  /** Calls `fn` once after `ms`; dispose to cancel. */
  setTimeout(fn: () => void, ms: number): Disposable;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    return { dispose: () => clearTimeout(handle) };
  },
};

/** A clock that moves only when told to: for tests. */
export class ManualClock implements Clock {
  private time: number;
  private mono = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;

  constructor(startMs = 0) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(fn: () => void, ms: number): Disposable {
    const id = this.nextId++;
    this.timers.push({ at: this.mono + Math.max(0, ms), fn, id });
    return { dispose: () => (this.timers = this.timers.filter((t) => t.id !== id)) };
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time += due.at - this.mono;
      this.mono = due.at;
      due.fn();
    }
    this.time += target - this.mono;
    this.mono = target;
  }
}
