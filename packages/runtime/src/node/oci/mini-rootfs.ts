/**
 * A tiny root filesystem made of the static busybox (Debian's `busybox-static`) and a few files. The
 * probe uses it for a real smoke run of each runtime; tests use it where a full image is not needed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeErrors } from '../../common/errors.js';

/** Where Debian's busybox-static installs its binary. */
export const BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox'] as const;

/** The first statically linked busybox on this host, or undefined. */
export function findStaticBusybox(): string | undefined {
  for (const p of BUSYBOX_PATHS) {
    if (!existsSync(p)) continue;
    // A static ELF has no PT_INTERP program header; checking for the loader's path is enough here.
    const head = readFileSync(p).subarray(0, 4096).toString('latin1');
    if (!head.includes('ld-linux')) return p;
  }
  return undefined;
}

/** A temporary busybox root filesystem; `dispose()` removes it. */
export interface MiniRootfs {
  readonly path: string;
  dispose(): Promise<void>;
}

/** Creates a busybox root filesystem under a fresh `virtos-rootfs-*` temp dir. */
export async function createMiniRootfs(parent = tmpdir()): Promise<MiniRootfs> {
  const busybox = findStaticBusybox();
  if (!busybox) {
    throw RuntimeErrors.create(
      'unavailable',
      'No static busybox found for a test root filesystem.',
      {
        hint: 'apt-get install busybox-static (scripts/setup.sh installs it).',
      },
    );
  }
  const dir = await mkdtemp(join(parent, 'virtos-rootfs-'));
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'home/user', 'tmp', 'proc', 'dev', 'sys', 'run', 'root', 'mnt']) {
    await mkdir(join(root, d), { recursive: true });
  }
  // runc gives a tmpfs the mode of the directory it covers, so the mount points carry the modes the
  // sandbox should see: /tmp world-writable and sticky, the home owned by the user.
  await chmod(join(root, 'tmp'), 0o1777);
  await chmod(join(root, 'home/user'), 0o700);
  await chown(join(root, 'home/user'), 1000, 1000).catch(() => undefined);
  await copyFile(busybox, join(root, 'bin/busybox'));
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n');
  for (const a of applets) {
    if (a && a !== 'busybox') await symlink('busybox', join(root, 'bin', a));
  }
  await writeFile(
    join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n',
  );
  await writeFile(join(root, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
  return { path: root, dispose: () => rm(dir, { recursive: true, force: true }) };
}
