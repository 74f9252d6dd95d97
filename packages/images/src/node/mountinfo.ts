/**
 * Reading /proc/self/mountinfo: which mount points exist, so that cleanup never deletes through a
 * mount and tests can prove that nothing is left mounted.
 */
import { readFile } from 'node:fs/promises';

/** One mount of the mount table. */
export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  /** Per-superblock options, e.g. `rw,size=65536k`. */
  readonly superOptions: string;
}

/** Undoes the octal escapes (`\040` for a space) the kernel uses in mountinfo. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses mountinfo text. Lines look like `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw`. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    const l = left?.split(' ') ?? [];
    const r = right?.split(' ') ?? [];
    const mp = l[4];
    if (mp === undefined || r.length < 2) continue;
    out.push({
      mountPoint: unescape(mp),
      fsType: r[0] ?? '',
      source: unescape(r[1] ?? ''),
      superOptions: r[2] ?? '',
    });
  }
  return out;
}

/** The current mount table of this process's mount namespace. */
export async function readMounts(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** Mount points at `dir` or below it, deepest first (the order to unmount them in). */
export function mountsUnder(mounts: readonly MountEntry[], dir: string): string[] {
  const base = dir.replace(/\/+$/, '');
  return mounts
    .map((m) => m.mountPoint)
    .filter((p) => p === base || p.startsWith(base + '/'))
    .sort((a, b) => b.length - a.length);
}
