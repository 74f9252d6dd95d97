import { describe, expect, it } from 'vitest';
import { computeLayerId, normalizePackages, shortId } from './layer-id.js';

const base = {
  kind: 'apps' as const,
  parent: 'a'.repeat(64),
  builder: 'mmdebstrap/1.3.5',
  distro: 'debian' as const,
  release: 'bookworm',
  packages: ['gimp', 'firefox-esr'],
};

describe('computeLayerId', () => {
  it('is a sha256 hex digest and stable', () => {
    const id = computeLayerId(base);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(computeLayerId({ ...base })).toBe(id);
  });

  it('ignores package order and duplicates', () => {
    expect(computeLayerId({ ...base, packages: ['firefox-esr', 'gimp', 'gimp'] })).toBe(
      computeLayerId(base),
    );
  });

  it.each([
    ['parent', { parent: 'b'.repeat(64) }],
    ['no parent', { parent: null }],
    ['builder version', { builder: 'mmdebstrap/1.4.0' }],
    ['distro', { distro: 'ubuntu' as const }],
    ['release', { release: 'trixie' }],
    ['kind', { kind: 'desktop' as const }],
    ['variant', { variant: 'minbase' }],
    ['packages', { packages: ['gimp'] }],
  ])('changes with the %s', (_name, change) => {
    expect(computeLayerId({ ...base, ...change })).not.toBe(computeLayerId(base));
  });

  it('rejects things that are not package names', () => {
    expect(() => normalizePackages(['ok', 'rm -rf /'])).toThrow(/not a package name/);
    expect(() => normalizePackages(['--option'])).toThrow(/not a package name/);
    expect(normalizePackages([' b ', 'a', 'b'])).toEqual(['a', 'b']);
  });

  it('shortens ids for people', () => {
    expect(shortId('0123456789abcdef')).toBe('0123456789ab');
  });
});
