/**
 * X11 keysyms for keys that do not come from the host keyboard: the shell's embedded keyboard and
 * the overlay's quick actions. noVNC's own keysym tables are not exported by the package, and
 * the few named keys the viewer sends are listed here.
 */

/** Named keys (X11 keysymdef.h). */
export const KEYSYM = {
  BackSpace: 0xff08,
  Tab: 0xff09,
  Return: 0xff0d,
  Escape: 0xff1b,
  Delete: 0xffff,
  Left: 0xff51,
  Up: 0xff52,
  Right: 0xff53,
  Down: 0xff54,
  Control_L: 0xffe3,
  Alt_L: 0xffe9,
  Shift_L: 0xffe1,
} as const;

/** The DOM `code` noVNC passes along for the named keys (used for QEMU extended key events). */
const CODE: Record<number, string> = {
  [KEYSYM.BackSpace]: 'Backspace',
  [KEYSYM.Tab]: 'Tab',
  [KEYSYM.Return]: 'Enter',
  [KEYSYM.Escape]: 'Escape',
};

/**
 * The keysym of one key of the embedded keyboard: a single character (Latin-1 maps to itself,
 * other Unicode to 0x01000000 + code point), or `Backspace` / `Enter` / `Tab` / `Escape`.
 * Undefined for anything else.
 */
export function keysymFor(key: string): { keysym: number; code: string | null } | undefined {
  switch (key) {
    case 'Backspace':
      return { keysym: KEYSYM.BackSpace, code: CODE[KEYSYM.BackSpace] ?? null };
    case 'Enter':
    case '\n':
      return { keysym: KEYSYM.Return, code: CODE[KEYSYM.Return] ?? null };
    case 'Tab':
    case '\t':
      return { keysym: KEYSYM.Tab, code: CODE[KEYSYM.Tab] ?? null };
    case 'Escape':
      return { keysym: KEYSYM.Escape, code: CODE[KEYSYM.Escape] ?? null };
  }
  const cps = [...key];
  if (cps.length !== 1) return undefined;
  const cp = key.codePointAt(0) as number;
  if (cp < 0x20 || cp === 0x7f) return undefined;
  if (cp <= 0xff) return { keysym: cp, code: null };
  return { keysym: 0x0100_0000 + cp, code: null };
}
