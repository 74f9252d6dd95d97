import { describe, expect, it } from 'vitest';
import { packagesAdded, parseDpkgQuery, parseManifest } from './manifest.js';

describe('parseDpkgQuery', () => {
  it('keeps installed packages, sorted, and skips removed or half-installed ones', () => {
    const out = [
      'zlib1g\t1:1.2.13.dfsg-1\tii ',
      'bash\t5.2.15-2+b7\tii ',
      'oldpkg\t1.0\trc ',
      'broken\t2.0\tiU ',
      '',
      'garbage line',
    ].join('\n');
    expect(parseDpkgQuery(out)).toEqual([
      { name: 'bash', version: '5.2.15-2+b7' },
      { name: 'zlib1g', version: '1:1.2.13.dfsg-1' },
    ]);
  });
});

describe('packagesAdded', () => {
  it('lists new packages and packages whose version changed', () => {
    const before = [
      { name: 'a', version: '1' },
      { name: 'b', version: '1' },
    ];
    const now = [
      { name: 'a', version: '1' },
      { name: 'b', version: '2' },
      { name: 'c', version: '1' },
    ];
    expect(packagesAdded(before, now)).toEqual([
      { name: 'b', version: '2' },
      { name: 'c', version: '1' },
    ]);
  });
});

describe('parseManifest', () => {
  const good = {
    id: 'a'.repeat(64),
    kind: 'base',
    parent: null,
    distro: 'debian',
    release: 'bookworm',
    packages: [],
    requested: [],
    sizeBytes: 1,
    entries: 1,
    treeHash: 'b'.repeat(64),
    createdAt: '2025-01-01T00:00:00.000Z',
    buildMs: 1,
    builder: 'mmdebstrap/1.3.5',
  };

  it('accepts a complete manifest', () => {
    const r = parseManifest(JSON.stringify(good));
    expect(r.ok).toBe(true);
  });

  it.each([
    ['not JSON', '{'],
    ['a bad id', JSON.stringify({ ...good, id: 'xyz' })],
    ['a bad kind', JSON.stringify({ ...good, kind: 'other' })],
    ['a bad parent', JSON.stringify({ ...good, parent: 'nope' })],
    ['no tree hash', JSON.stringify({ ...good, treeHash: undefined })],
  ])('returns an error value for %s', (_name, text) => {
    const r = parseManifest(text);
    expect(r.ok).toBe(false);
  });
});
