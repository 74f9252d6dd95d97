import { describe, expect, it } from 'vitest';
import { PhraseIndex, Tokens } from './phrases.js';

describe('phrases', () => {
  const index = new PhraseIndex<string>();
  index.add('libreoffice', 'suite');
  index.add('libreoffice writer', 'writer');
  index.add('browser', 'need');
  index.add('go', 'golang');

  const match = (text: string) => index.match(new Tokens(text, index.words)).map((m) => m.value);

  it('prefers the longest phrase and matches whole words only', () => {
    expect(match('libreoffice writer please')).toEqual(['writer']);
    expect(match('libreoffice')).toEqual(['suite']);
    expect(match('google')).toEqual([]);
  });

  it('tolerates a plural on the last word', () => {
    expect(match('two browsers')).toEqual(['need']);
  });

  it('splits hyphenated words only when every part is known', () => {
    expect(new Tokens('browser-libreoffice db-server', index.words).list).toEqual([
      'browser',
      'libreoffice',
      'db-server',
    ]);
  });

  it('detects negation in the two words before', () => {
    const t = new Tokens('a desktop without any browser', new Set());
    expect(t.isNegated(4)).toBe(true);
    expect(t.isNegated(1)).toBe(false);
  });
});
