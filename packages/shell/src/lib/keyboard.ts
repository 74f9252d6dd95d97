/**
 * The embedded keyboard's layouts. Keys are data; the Svelte component draws them. A randomised
 * layout (for secrets) shuffles the character keys with the browser's CSPRNG, so where a key sits
 * on screen says nothing about which key was pressed to someone who sees only the pointer.
 */

/** A key: a character, or one of the special actions. */
export type KeyboardKey =
  | { readonly kind: 'char'; readonly value: string }
  | { readonly kind: 'shift' | 'symbols' | 'backspace' | 'enter' | 'space' | 'shuffle' };

/** The three character pages. */
export type KeyboardPage = 'lower' | 'upper' | 'symbols';

const PAGES: Record<KeyboardPage, string[]> = {
  lower: ['1234567890', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm'],
  upper: ['1234567890', 'QWERTYUIOP', 'ASDFGHJKL', 'ZXCVBNM'],
  symbols: ['!@#$%^&*()', '-_=+[]{};:', '\'",.<>/?\\', '|`~'],
};

/** Random integer in [0, n) from a CSPRNG; `rand` is injectable for tests. */
export type RandomInt = (n: number) => number;

/** A uniform random integer in [0, n) from `crypto.getRandomValues` (rejection sampling). */
export const cryptoRandomInt: RandomInt = (n) => {
  const buf = new Uint32Array(1);
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  for (;;) {
    crypto.getRandomValues(buf);
    const v = buf[0] as number;
    if (v < limit) return v % n;
  }
};

/** The rows of a page: character keys, then the action row. */
export function layout(
  page: KeyboardPage,
  opts: { randomise?: boolean; rand?: RandomInt } = {},
): KeyboardKey[][] {
  const rows = PAGES[page].map((r) => [...r]);
  if (opts.randomise) {
    // SECURITY: Fisher-Yates over every character key of the page, with a CSPRNG (not
    // Math.random), so each layout is one of n! equally likely permutations.
    const flat = rows.flat();
    const rand = opts.rand ?? cryptoRandomInt;
    for (let i = flat.length - 1; i > 0; i--) {
      const j = rand(i + 1);
      [flat[i], flat[j]] = [flat[j] as string, flat[i] as string];
    }
    let k = 0;
    for (const r of rows) for (let i = 0; i < r.length; i++) r[i] = flat[k++] as string;
  }
  const keys: KeyboardKey[][] = rows.map((r) => r.map((value) => ({ kind: 'char', value })));
  const actions: KeyboardKey[] = [
    { kind: 'shift' },
    { kind: 'symbols' },
    { kind: 'space' },
    { kind: 'backspace' },
    { kind: 'enter' },
  ];
  if (opts.randomise) actions.splice(2, 0, { kind: 'shuffle' });
  keys.push(actions);
  return keys;
}

/** The label shown on a key. */
export function keyLabel(k: KeyboardKey, page: KeyboardPage): string {
  switch (k.kind) {
    case 'char':
      return k.value;
    case 'shift':
      return page === 'upper' ? '⇩' : '⇧';
    case 'symbols':
      return page === 'symbols' ? 'abc' : '#+=';
    case 'backspace':
      return '⌫';
    case 'enter':
      return '⏎';
    case 'space':
      return 'space';
    case 'shuffle':
      return '⟳';
  }
}

/** The accessible name of a key (tests and screen readers find keys by it). */
export function keyName(k: KeyboardKey): string {
  return k.kind === 'char' ? `key ${k.value}` : k.kind;
}
