import { describe, expect, it } from 'vitest';

import { createDomainMatcher, normalizeHostname } from './domain-match.js';

describe('createDomainMatcher', () => {
  const m = createDomainMatcher(['Example.com', '*.wild.test', 'not a domain', '*.']);

  it('matches exact names case-insensitively, with or without a trailing dot', () => {
    expect(m.matches('example.com')).toBe(true);
    expect(m.matches('EXAMPLE.COM.')).toBe(true);
    expect(m.matches('www.example.com')).toBe(false);
    expect(m.matches('example.com.evil.test')).toBe(false);
  });

  it('matches subdomains only for wildcards, at any depth', () => {
    expect(m.matches('a.wild.test')).toBe(true);
    expect(m.matches('a.b.wild.test')).toBe(true);
    expect(m.matches('wild.test')).toBe(false);
    expect(m.matches('evilwild.test')).toBe(false);
  });

  it('drops invalid patterns instead of widening them', () => {
    expect(m.patterns).toEqual(['example.com', '*.wild.test']);
    expect(m.matches('test')).toBe(false);
    expect(createDomainMatcher([]).matches('example.com')).toBe(false);
  });

  it('rejects malformed names', () => {
    expect(normalizeHostname('a..b')).toBeUndefined();
    expect(normalizeHostname('-a.b')).toBeUndefined();
    expect(normalizeHostname('a b')).toBeUndefined();
    expect(normalizeHostname('x'.repeat(64) + '.test')).toBeUndefined();
  });
});
