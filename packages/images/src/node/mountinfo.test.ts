import { describe, expect, it } from 'vitest';
import { mountsUnder, parseMountInfo } from './mountinfo.js';

const SAMPLE = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '98 22 0:51 / /var/cache/x/root rw,relatime shared:50 - overlay virtos-root rw,lowerdir=/a:/b,upperdir=/c/upper,workdir=/c/work',
  '99 98 0:52 / /var/cache/x/root/proc rw - proc proc rw',
  '100 22 0:53 / /var/cache/x/root.rw rw - tmpfs virtos-rw rw,size=65536k',
  '101 22 0:54 / /mnt/with\\040space rw - tmpfs tmpfs rw',
].join('\n');

describe('parseMountInfo', () => {
  it('reads mount points, types, sources and options', () => {
    const m = parseMountInfo(SAMPLE);
    expect(m).toHaveLength(5);
    expect(m[1]).toMatchObject({
      mountPoint: '/var/cache/x/root',
      fsType: 'overlay',
      source: 'virtos-root',
    });
    expect(m[1]?.superOptions).toContain('upperdir=/c/upper');
    expect(m[4]?.mountPoint).toBe('/mnt/with space');
  });

  it('finds mounts at or below a directory, deepest first, without prefix confusion', () => {
    const m = parseMountInfo(SAMPLE);
    expect(mountsUnder(m, '/var/cache/x/root')).toEqual([
      '/var/cache/x/root/proc',
      '/var/cache/x/root',
    ]);
    expect(mountsUnder(m, '/var/cache/x/root.rw/')).toEqual(['/var/cache/x/root.rw']);
    expect(mountsUnder(m, '/var/cache/y')).toEqual([]);
  });
});
