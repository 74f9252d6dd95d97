import { describe, expect, it } from 'vitest';
import { cryptoRandomInt, layout } from './keyboard.js';

const chars = (rows: ReturnType<typeof layout>) =>
  rows.flat().flatMap((k) => (k.kind === 'char' ? [k.value] : []));

describe('embedded keyboard layouts', () => {
  it('the ordered layout is QWERTY with an action row', () => {
    const rows = layout('lower');
    expect(chars(rows).join('')).toBe('1234567890qwertyuiopasdfghjklzxcvbnm');
    expect(rows.at(-1)?.map((k) => k.kind)).toEqual([
      'shift',
      'symbols',
      'space',
      'backspace',
      'enter',
    ]);
  });

  it('a randomised layout is a permutation of the same keys, different each time', () => {
    const a = chars(layout('lower', { randomise: true }));
    const b = chars(layout('lower', { randomise: true }));
    expect([...a].sort()).toEqual([...chars(layout('lower'))].sort());
    expect(a.join('')).not.toBe(b.join('')); // 36! layouts: a collision is practically impossible
    expect(
      layout('lower', { randomise: true })
        .at(-1)
        ?.some((k) => k.kind === 'shuffle'),
    ).toBe(true);
  });

  it('cryptoRandomInt is in range and roughly uniform', () => {
    const counts = new Array(6).fill(0) as number[];
    for (let i = 0; i < 6000; i++) counts[cryptoRandomInt(6)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});
