import { describe, expect, it } from 'vitest';
import { formatRecoveryKey, newRecoveryKeySecret, parseRecoveryKey } from './recovery-key.js';

describe('recovery keys', () => {
  it('round-trips and is 13 groups of 4', () => {
    const secret = newRecoveryKeySecret();
    const text = formatRecoveryKey(secret);
    expect(text).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){12}[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(parseRecoveryKey(text).equals(secret)).toBe(true);
  });

  it('accepts lower case, spaces and confusable letters', () => {
    const secret = Buffer.alloc(30, 0);
    const text = formatRecoveryKey(secret);
    expect(text.startsWith('0000-')).toBe(true);
    const typed = text.toLowerCase().replace(/0/g, 'o').replace(/-/g, ' ');
    expect(parseRecoveryKey(typed).equals(secret)).toBe(true);
  });

  it('tells a typo apart (check characters)', () => {
    const text = formatRecoveryKey(Buffer.alloc(30, 7));
    const typo = (text[0] === 'A' ? 'B' : 'A') + text.slice(1);
    expect(() => parseRecoveryKey(typo)).toThrow(/typo/);
    expect(() => parseRecoveryKey('short')).toThrow(/typo/);
  });
});
