import { describe, expect, it } from 'vitest';
import { GestureRecognizer, type GestureAction, type TimerPort } from './gestures.js';

/** Timers advanced by hand. */
function fakeTimers(): TimerPort & { fire(): void } {
  let pending: (() => void) | undefined;
  return {
    set: (fn) => {
      pending = fn;
      return 1;
    },
    clear: () => {
      pending = undefined;
    },
    fire: () => {
      const f = pending;
      pending = undefined;
      f?.();
    },
  };
}

function make(mode: 'direct' | 'touchpad') {
  const out: GestureAction[] = [];
  const timers = fakeTimers();
  const g = new GestureRecognizer({
    mode,
    emit: (a) => out.push(a),
    timers,
    cursor: { x: 100, y: 100 },
    clamp: (x, y) => ({ x: Math.max(0, Math.min(640, x)), y: Math.max(0, Math.min(480, y)) }),
  });
  return { g, out, timers };
}

const buttons = (out: GestureAction[]) =>
  out
    .filter((a) => a.kind === 'button')
    .map((a) => (a.kind === 'button' ? `${a.button}${a.down ? 'v' : '^'}@${a.x},${a.y}` : ''));

describe('gestures, direct touch', () => {
  it('tap = left click at the finger', () => {
    const { g, out } = make('direct');
    g.down({ id: 1, x: 50, y: 60, t: 0 });
    g.up({ id: 1, x: 51, y: 60, t: 80 });
    expect(buttons(out)).toEqual(['0v@50,60', '0^@50,60']);
  });

  it('two-finger tap = right click between the fingers', () => {
    const { g, out } = make('direct');
    g.down({ id: 1, x: 40, y: 40, t: 0 });
    g.down({ id: 2, x: 60, y: 40, t: 20 });
    g.up({ id: 1, x: 40, y: 40, t: 90 });
    g.up({ id: 2, x: 60, y: 40, t: 95 });
    expect(buttons(out)).toEqual(['2v@50,40', '2^@50,40']);
  });

  it('drag = left button held along the path', () => {
    const { g, out } = make('direct');
    g.down({ id: 1, x: 10, y: 10, t: 0 });
    g.move({ id: 1, x: 40, y: 10, t: 50 });
    g.move({ id: 1, x: 80, y: 20, t: 100 });
    g.up({ id: 1, x: 80, y: 20, t: 150 });
    expect(buttons(out)).toEqual(['0v@10,10', '0^@80,20']);
    expect(out.filter((a) => a.kind === 'move').at(-1)).toEqual({ kind: 'move', x: 80, y: 20 });
  });

  it('long-press = right click; lifting afterwards adds nothing', () => {
    const { g, out, timers } = make('direct');
    g.down({ id: 1, x: 30, y: 30, t: 0 });
    timers.fire();
    g.up({ id: 1, x: 30, y: 30, t: 900 });
    expect(buttons(out)).toEqual(['2v@30,30', '2^@30,30']);
  });

  it('pinch = zoom by the distance ratio around the centroid, no buttons', () => {
    const { g, out } = make('direct');
    g.down({ id: 1, x: 100, y: 100, t: 0 });
    g.down({ id: 2, x: 200, y: 100, t: 10 });
    g.move({ id: 2, x: 300, y: 100, t: 60 });
    g.up({ id: 1, x: 100, y: 100, t: 400 });
    g.up({ id: 2, x: 300, y: 100, t: 410 });
    expect(buttons(out)).toEqual([]);
    const z = out.filter((a) => a.kind === 'zoom');
    expect(z).toHaveLength(1);
    expect(z[0]).toMatchObject({ factor: 2, cx: 200, cy: 100 });
  });

  it('cancel releases a held button', () => {
    const { g, out } = make('direct');
    g.down({ id: 1, x: 10, y: 10, t: 0 });
    g.move({ id: 1, x: 60, y: 10, t: 50 });
    g.cancel();
    expect(buttons(out)).toEqual(['0v@10,10', '0^@60,10']);
  });
});

describe('gestures, touch-pad', () => {
  it('moves the cursor relatively (clamped) and taps click at the cursor', () => {
    const { g, out } = make('touchpad');
    g.down({ id: 1, x: 500, y: 500, t: 0 });
    g.move({ id: 1, x: 530, y: 480, t: 40 });
    g.move({ id: 1, x: 560, y: 470, t: 80 });
    g.up({ id: 1, x: 560, y: 470, t: 120 });
    expect(g.cursor).toEqual({ x: 160, y: 70 });
    expect(buttons(out)).toEqual([]);
    g.down({ id: 2, x: 10, y: 10, t: 300 });
    g.up({ id: 2, x: 10, y: 10, t: 350 });
    expect(buttons(out)).toEqual(['0v@160,70', '0^@160,70']);
    g.down({ id: 3, x: 0, y: 0, t: 400 });
    g.move({ id: 3, x: -900, y: -900, t: 450 });
    expect(g.cursor).toEqual({ x: 0, y: 0 });
  });

  it('long-press then move drags with the left button held', () => {
    const { g, out, timers } = make('touchpad');
    g.down({ id: 1, x: 300, y: 300, t: 0 });
    timers.fire();
    g.move({ id: 1, x: 320, y: 300, t: 700 });
    g.up({ id: 1, x: 320, y: 300, t: 800 });
    expect(buttons(out)).toEqual(['0v@100,100', '0^@120,100']);
  });
});
