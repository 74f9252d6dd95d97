/**
 * Touch gestures mapped to mouse actions for the desktop viewer, as a pure state machine (pointer
 * samples in, actions out; timers injected) so it is unit-tested without a browser.
 *
 * Two touch modes:
 * - `direct`: the finger is the pointer. Tap = left click there; two-finger tap = right click;
 *   drag = left-button drag; long-press = right click; pinch = zoom the viewport.
 * - `touchpad`: the window is a touch-pad moving a cursor. One-finger move = move the cursor;
 *   tap = left click at the cursor; two-finger tap = right click; long-press then move = drag with
 *   the left button held; pinch = zoom the viewport.
 * In `mouse` mode the viewer leaves input to noVNC and this recognizer is not used.
 */

/** The viewer's input modes. */
export type InputMode = 'mouse' | 'touchpad' | 'direct';

/** Mouse buttons as in MouseEvent.button. */
export type Button = 0 | 1 | 2;

/** What a gesture asks the viewer to do; positions are client (CSS pixel) coordinates. */
export type GestureAction =
  | { readonly kind: 'move'; readonly x: number; readonly y: number }
  | {
      readonly kind: 'button';
      readonly button: Button;
      readonly down: boolean;
      readonly x: number;
      readonly y: number;
    }
  /** Multiply the viewport zoom by `factor` around (cx, cy), and pan by (dx, dy). */
  | {
      readonly kind: 'zoom';
      readonly factor: number;
      readonly cx: number;
      readonly cy: number;
      readonly dx: number;
      readonly dy: number;
    };

/** One pointer sample. */
export interface TouchSample {
  readonly id: number;
  readonly x: number;
  readonly y: number;
  /** ms, any monotonic origin. */
  readonly t: number;
}

/** Timer port (setTimeout/clearTimeout in the browser, a fake in tests). */
export interface TimerPort {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface GestureOptions {
  readonly mode: 'touchpad' | 'direct';
  readonly emit: (a: GestureAction) => void;
  readonly timers: TimerPort;
  /** Where the touch-pad cursor starts (client coordinates). */
  readonly cursor?: { x: number; y: number };
  /** Keeps the touch-pad cursor inside the remote screen. */
  readonly clamp?: (x: number, y: number) => { x: number; y: number };
  /** A touch shorter than this with little movement is a tap, ms. */
  readonly tapMs?: number;
  /** Movement below this is not a drag, CSS px. */
  readonly slopPx?: number;
  /** Holding still this long is a long-press, ms. */
  readonly longPressMs?: number;
}

type Phase =
  | { kind: 'idle' }
  /** One finger down, not yet a tap, drag or long-press. */
  | { kind: 'one'; start: TouchSample; last: TouchSample }
  /** One finger dragging (direct: button held; touchpad: cursor moving, or held after long-press). */
  | { kind: 'drag'; last: TouchSample; isHeld: boolean }
  /** Two fingers down, no pinch yet. */
  | {
      kind: 'two';
      startT: number;
      a: TouchSample;
      b: TouchSample;
      startDist: number;
      moved: boolean;
    }
  /** Pinching: zoom by distance ratio, pan by centroid movement. */
  | { kind: 'pinch'; a: TouchSample; b: TouchSample }
  /** Gesture over, waiting for every finger to lift. */
  | { kind: 'done' };

const dist = (a: TouchSample, b: TouchSample): number => Math.hypot(a.x - b.x, a.y - b.y);

/** Recognises gestures from pointer samples; feed it `down`, `move`, `up`, `cancel`. */
export class GestureRecognizer {
  readonly #o: GestureOptions;
  readonly #tapMs: number;
  readonly #slop: number;
  readonly #longMs: number;
  #phase: Phase = { kind: 'idle' };
  #down = new Map<number, TouchSample>();
  #longTimer: unknown;
  #cursor: { x: number; y: number };

  constructor(o: GestureOptions) {
    this.#o = o;
    this.#tapMs = o.tapMs ?? 250;
    this.#slop = o.slopPx ?? 10;
    this.#longMs = o.longPressMs ?? 550;
    this.#cursor = o.cursor ?? { x: 0, y: 0 };
  }

  /** The touch-pad cursor (client coordinates). */
  get cursor(): { x: number; y: number } {
    return { ...this.#cursor };
  }

  /** Moves the touch-pad cursor (e.g. to the centre when the mode is chosen). */
  setCursor(x: number, y: number): void {
    this.#cursor = this.#o.clamp?.(x, y) ?? { x, y };
  }

  down(p: TouchSample): void {
    this.#down.set(p.id, p);
    const ph = this.#phase;
    if (this.#down.size === 1 && ph.kind === 'idle') {
      this.#phase = { kind: 'one', start: p, last: p };
      this.#longTimer = this.#o.timers.set(() => this.#onLongPress(), this.#longMs);
      return;
    }
    if (this.#down.size === 2 && (ph.kind === 'one' || ph.kind === 'drag')) {
      this.#cancelLong();
      if (ph.kind === 'drag') this.#release(ph.last);
      const [a, b] = [...this.#down.values()] as [TouchSample, TouchSample];
      const startT = ph.kind === 'one' ? ph.start.t : p.t;
      this.#phase = { kind: 'two', startT, a, b, startDist: dist(a, b), moved: false };
      return;
    }
    // A third finger, or a finger during 'done': ignore until all lift.
    if (ph.kind !== 'idle') this.#phase = this.#phase.kind === 'pinch' ? ph : { kind: 'done' };
  }

  move(p: TouchSample): void {
    if (!this.#down.has(p.id)) return;
    this.#down.set(p.id, p);
    const ph = this.#phase;
    switch (ph.kind) {
      case 'one': {
        if (dist(ph.start, p) < this.#slop) return;
        this.#cancelLong();
        if (this.#o.mode === 'direct') {
          this.#o.emit({ kind: 'move', x: ph.start.x, y: ph.start.y });
          this.#o.emit({ kind: 'button', button: 0, down: true, x: ph.start.x, y: ph.start.y });
          this.#o.emit({ kind: 'move', x: p.x, y: p.y });
        } else {
          this.#moveCursor(p.x - ph.last.x, p.y - ph.last.y);
        }
        this.#phase = { kind: 'drag', last: p, isHeld: this.#o.mode === 'direct' };
        return;
      }
      case 'drag': {
        if (this.#o.mode === 'direct') this.#o.emit({ kind: 'move', x: p.x, y: p.y });
        else this.#moveCursor(p.x - ph.last.x, p.y - ph.last.y);
        this.#phase = { ...ph, last: p };
        return;
      }
      case 'two':
      case 'pinch': {
        const isA = p.id === ph.a.id;
        const a = isA ? p : ph.a;
        const b = isA ? ph.b : p;
        if (ph.kind === 'two') {
          const spread = Math.abs(dist(a, b) - ph.startDist);
          const travel = Math.max(dist(a, ph.a), dist(b, ph.b));
          if (spread < this.#slop && travel < this.#slop) return;
          this.#phase = { kind: 'pinch', a: ph.a, b: ph.b };
        }
        const prev = this.#phase as Extract<Phase, { kind: 'pinch' }>;
        const d0 = Math.max(1, dist(prev.a, prev.b));
        const cx0 = (prev.a.x + prev.b.x) / 2;
        const cy0 = (prev.a.y + prev.b.y) / 2;
        const cx = (a.x + b.x) / 2;
        const cy = (a.y + b.y) / 2;
        this.#o.emit({ kind: 'zoom', factor: dist(a, b) / d0, cx, cy, dx: cx - cx0, dy: cy - cy0 });
        this.#phase = { kind: 'pinch', a, b };
        return;
      }
      default:
        return;
    }
  }

  up(p: TouchSample): void {
    if (!this.#down.has(p.id)) return;
    this.#down.delete(p.id);
    const ph = this.#phase;
    switch (ph.kind) {
      case 'one': {
        this.#cancelLong();
        if (p.t - ph.start.t <= this.#tapMs || dist(ph.start, p) < this.#slop) {
          this.#click(0, ph.start);
        }
        break;
      }
      case 'drag':
        if (ph.isHeld) this.#release(p);
        break;
      case 'two':
        if (p.t - ph.startT <= this.#tapMs * 2) this.#click(2, this.#mid(ph.a, ph.b));
        this.#phase = { kind: 'done' };
        break;
      default:
        break;
    }
    if (this.#down.size === 0) this.#phase = { kind: 'idle' };
    else if (this.#phase.kind !== 'done') this.#phase = { kind: 'done' };
  }

  /** The browser took the touch away (scroll, system gesture): release anything held. */
  cancel(): void {
    this.#cancelLong();
    const ph = this.#phase;
    if (ph.kind === 'drag' && ph.isHeld) this.#release(ph.last);
    this.#down.clear();
    this.#phase = { kind: 'idle' };
  }

  #mid(a: TouchSample, b: TouchSample): TouchSample {
    return { id: -1, x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, t: Math.max(a.t, b.t) };
  }

  /** A click: at the finger (direct) or at the cursor (touchpad). */
  #click(button: Button, at: TouchSample): void {
    const { x, y } = this.#o.mode === 'direct' ? at : this.#cursor;
    this.#o.emit({ kind: 'move', x, y });
    this.#o.emit({ kind: 'button', button, down: true, x, y });
    this.#o.emit({ kind: 'button', button, down: false, x, y });
  }

  #release(at: TouchSample): void {
    const { x, y } = this.#o.mode === 'direct' ? at : this.#cursor;
    this.#o.emit({ kind: 'button', button: 0, down: false, x, y });
  }

  #moveCursor(dx: number, dy: number): void {
    this.setCursor(this.#cursor.x + dx, this.#cursor.y + dy);
    this.#o.emit({ kind: 'move', x: this.#cursor.x, y: this.#cursor.y });
  }

  #onLongPress(): void {
    this.#longTimer = undefined;
    const ph = this.#phase;
    if (ph.kind !== 'one') return;
    if (this.#o.mode === 'direct') {
      // Long-press = right click where the finger is (the context menu gesture).
      this.#click(2, ph.last);
      this.#phase = { kind: 'done' };
    } else {
      // Touch-pad: long-press grabs (left button held); moving then drags; lifting releases.
      const { x, y } = this.#cursor;
      this.#o.emit({ kind: 'button', button: 0, down: true, x, y });
      this.#phase = { kind: 'drag', last: ph.last, isHeld: true };
    }
  }

  #cancelLong(): void {
    if (this.#longTimer !== undefined) this.#o.timers.clear(this.#longTimer);
    this.#longTimer = undefined;
  }
}
