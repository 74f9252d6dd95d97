import { describe, expect, it } from 'vitest';
import { newProgressState, parseAptSize, parseProgressLine } from './progress.js';

describe('parseAptSize', () => {
  it.each([
    ['37.6 kB', 37_600],
    ['8790 kB', 8_790_000],
    ['1,234 B', 1234],
    ['1.5 MB', 1_500_000],
    ['2 GB', 2_000_000_000],
  ])('%s -> %d bytes', (text, bytes) => expect(parseAptSize(text)).toBe(bytes));

  it('rejects other text', () => {
    expect(parseAptSize('soon')).toBeUndefined();
  });
});

describe('parseProgressLine', () => {
  it('follows an mmdebstrap --verbose run', () => {
    const s = newProgressState();
    const lines = [
      'I: running apt-get update...',
      'Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]',
      'Get:2 http://deb.debian.org/debian bookworm/main amd64 Packages [8790 kB]',
      'I: downloading packages with apt...',
      '0 upgraded, 69 newly installed, 0 to remove and 0 not upgraded.',
      'Get:1 http://deb.debian.org/debian bookworm/main amd64 gcc-12-base amd64 12.2.0-14 [37.6 kB]',
      'I: extracting archives...',
      'Unpacking gcc-12-base:amd64 (12.2.0-14) ...',
      'Setting up gcc-12-base:amd64 (12.2.0-14) ...',
      'Setting up libc6:amd64 (2.36-9) ...',
      '0 upgraded, 27 newly installed, 0 to remove and 0 not upgraded.',
      'some other line',
    ];
    const changed = lines.map((l) => parseProgressLine(s, l));
    expect(changed.at(-1)).toBe(false);
    expect(s.bytes).toBe(151_000 + 8_790_000 + 37_600);
    expect(s.packagesTotal).toBe(96);
    expect(s.packagesDone).toBe(2);
    expect(s.phase).toBe('resolve');
    expect(s.message).toBe('setting up libc6:amd64');
  });

  it('maps mmdebstrap steps to phases', () => {
    const s = newProgressState();
    parseProgressLine(s, 'I: installing remaining packages inside the chroot...');
    expect(s.phase).toBe('configure');
    parseProgressLine(s, 'I: extracting archives...');
    expect(s.phase).toBe('unpack');
  });
});
