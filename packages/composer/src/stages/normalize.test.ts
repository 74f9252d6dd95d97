import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_CHARS, normalize } from './normalize.js';

describe('normalize', () => {
  it('folds case, quotes, punctuation and whitespace but keeps domains and versions', () => {
    const n = normalize(
      '  A “Debian 12” desktop, with Firefox; reach  Wikipedia.org. Python 3.11!  ',
    );
    expect(n.text).toBe(' a debian 12 desktop with firefox reach wikipedia.org python 3.11 ');
    expect(n.findings).toEqual([]);
  });

  it('folds full-width and compatibility characters', () => {
    expect(normalize('ＧＩＭＰ ８ｇｂ').text).toBe(' gimp 8gb ');
  });

  it('refuses over-long input with a blocking finding', () => {
    const n = normalize('a'.repeat(MAX_REQUEST_CHARS + 1));
    expect(n.findings).toHaveLength(1);
    expect(n.findings[0]).toMatchObject({
      kind: 'unsupported',
      blocking: true,
      code: 'request.too_long',
    });
  });

  it('refuses binary junk', () => {
    const junk = String.fromCharCode(...Array.from({ length: 200 }, (_, i) => (i * 7) % 32));
    expect(normalize(junk).findings[0]?.code).toBe('request.unreadable');
    expect(normalize('\u{1F600}\u{1F680}\u{1F525}').findings[0]?.code).toBe('request.unreadable');
  });

  it('keeps non-Latin text readable', () => {
    expect(normalize('Ein Debian-Desktop mit Firefox, bitte').findings).toEqual([]);
  });
});
