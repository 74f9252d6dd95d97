/**
 * Mounting: the overlay root file system an environment runs on, and the small helpers the store
 * uses for its build overlays. All mounts go through `mount`/`umount` (util-linux) via the exec port.
 */
import { mkdir, rmdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ImageErrors } from '../common/errors.js';
import type { ResolvedImage } from '../common/types.js';
import { nodeExec, type Exec } from './exec.js';
import { mountsUnder, readMounts } from './mountinfo.js';

/** A mounted root file system; dispose it to unmount everything and remove its directories. */
export interface MountedRootfs {
  /** The overlay's mount point: the root the sandbox starts in. */
  readonly path: string;
  /** The tmpfs holding the overlay's upper and work dirs (RAM only). */
  readonly scratch: string;
  /** The image key it was mounted from. */
  readonly key: string;
  /** Size of the writable tmpfs, MiB. */
  readonly writableMiB: number;
  /** Unmounts the overlay and the tmpfs and removes both directories. Safe to call twice. */
  dispose(): Promise<void>;
}

/** Options of {@link mountRootfs}. */
export interface MountRootfsOptions {
  /** Where to mount the root (created if absent, must be empty). Absolute. */
  readonly target: string;
  /** Size of the RAM-backed writable layer, MiB (tmpfs `size=`). */
  readonly writableMiB: number;
  /** Where to mount the tmpfs for upper/work; default `<target>.rw`. */
  readonly scratch?: string;
  readonly exec?: Exec;
}

/** Largest writable layer accepted, MiB (64 GiB). */
export const MAX_WRITABLE_MIB = 64 * 1024;

/** Runs mount/umount and turns a failure into `images.mount_failed` (or `not_root`). */
export async function runMount(exec: Exec, argv: string[], subject: string): Promise<void> {
  const r = await exec(argv);
  if (r.code === 0) return;
  const why = r.stderr.trim() || `exit ${r.code}`;
  if (/permission denied|must be superuser|only root/i.test(why)) {
    throw ImageErrors.create('not_root', `${argv[0]} ${subject} was refused: ${why}`, {
      subject,
      hint: 'Image builds and root file system mounts need root (run the daemon as root).',
    });
  }
  if (r.code === 127) {
    throw ImageErrors.create('tool_missing', `${argv[0]} is not installed.`, {
      hint: 'Install util-linux (mount, umount).',
    });
  }
  throw ImageErrors.create('mount_failed', `${argv[0]} ${subject} failed: ${why}`, {
    subject,
    hint: 'Check that overlayfs and tmpfs are available (see virtos doctor) and the directory is not busy.',
  });
}

/** Overlay `lowerdir=` value: the highest layer first, as overlayfs wants it. */
export function lowerDirOption(layerPaths: readonly string[]): string {
  for (const p of layerPaths) {
    if (!isAbsolute(p) || /[,:\\\s]/.test(p)) {
      throw ImageErrors.create(
        'mount_failed',
        `Layer path '${p}' cannot be an overlay lower dir.`,
        {
          subject: p,
          hint: 'Use a cache directory whose path is absolute and has no commas, colons or spaces.',
        },
      );
    }
  }
  return [...layerPaths].reverse().join(':');
}

/** Unmounts `dir` if it is a mount point (each mount stacked there). */
export async function unmountIfMounted(exec: Exec, dir: string): Promise<void> {
  for (let i = 0; i < 8; i++) {
    const mounted = (await readMounts()).some((m) => m.mountPoint === dir);
    if (!mounted) return;
    await runMount(exec, ['umount', dir], dir);
  }
}

/**
 * Unmounts a root made by {@link mountRootfs} from its two paths alone (the overlay, then its scratch
 * tmpfs) and removes both directories: for crash recovery, when the MountedRootfs handle is gone.
 * Idempotent; fails with `images.mount_failed` when something stays mounted (a process still uses it).
 */
export async function unmountRootfs(
  path: string,
  scratch: string,
  exec: Exec = nodeExec,
): Promise<void> {
  const target = resolve(path);
  const rw = resolve(scratch);
  // SECURITY: only mounts at or below these two paths are unmounted (deepest first), and the
  // directories are removed with rmdir (never recursive), so no layer or host file can be deleted.
  for (const dir of [target, rw]) {
    for (const m of mountsUnder(await readMounts(), dir)) await unmountIfMounted(exec, m);
  }
  const left = [...mountsUnder(await readMounts(), target), ...mountsUnder(await readMounts(), rw)];
  if (left.length > 0) {
    throw ImageErrors.create('mount_failed', `Mounts remain under ${target}: ${left.join(', ')}.`, {
      subject: target,
      hint: 'Stop the processes using them, then unmount (umount -R) or run `virtos doctor --cleanup`.',
    });
  }
  await rmdir(target).catch(() => undefined);
  await rmdir(rw).catch(() => undefined);
}

/**
 * Mounts `image` at `opts.target`: the layers as read-only lowers of an overlay whose upper and work
 * dirs sit on a fresh tmpfs of `writableMiB`, so everything an environment writes stays in RAM and
 * disappears on dispose.
 */
export async function mountRootfs(
  image: ResolvedImage,
  opts: MountRootfsOptions,
): Promise<MountedRootfs> {
  const exec = opts.exec ?? nodeExec;
  const target = resolve(opts.target);
  const scratch = resolve(opts.scratch ?? `${target}.rw`);
  if (
    !Number.isInteger(opts.writableMiB) ||
    opts.writableMiB < 1 ||
    opts.writableMiB > MAX_WRITABLE_MIB
  ) {
    throw ImageErrors.create(
      'invalid_request',
      `writableMiB must be an integer 1..${MAX_WRITABLE_MIB}.`,
      {
        subject: String(opts.writableMiB),
      },
    );
  }
  if (image.layers.length === 0) {
    throw ImageErrors.create('invalid_request', 'The image has no layers.', { subject: image.key });
  }
  const lower = lowerDirOption(image.layers.map((l) => l.path));
  await mkdir(dirname(target), { recursive: true });
  await mkdir(target, { recursive: true });
  await mkdir(scratch, { recursive: true });
  let scratchMounted = false;
  let overlayMounted = false;
  const undo = async () => {
    // SECURITY: only the two mount points this call created are unmounted, and directories are
    // removed with rmdir (never recursive), so a failed unmount can never delete layer or host files.
    if (overlayMounted) await unmountIfMounted(exec, target);
    overlayMounted = false;
    if (scratchMounted) await unmountIfMounted(exec, scratch);
    scratchMounted = false;
    const left = mountsUnder(await readMounts(), target).concat(
      mountsUnder(await readMounts(), scratch),
    );
    if (left.length > 0) {
      throw ImageErrors.create(
        'mount_failed',
        `Mounts remain under ${target}: ${left.join(', ')}.`,
        {
          subject: target,
          hint: 'Unmount them (umount -R) after stopping the processes using them.',
        },
      );
    }
    await rmdir(target).catch(() => undefined);
    await rmdir(scratch).catch(() => undefined);
  };
  try {
    // SECURITY: a private tmpfs (nosuid, nodev) sized by the caller holds every write of the
    // environment: it lives in RAM only and is gone on unmount (zero-knowledge rule: no user data on
    // disk), and its size caps what an environment can write.
    await runMount(
      exec,
      [
        'mount',
        '-t',
        'tmpfs',
        '-o',
        `size=${opts.writableMiB}m,mode=0755,nosuid,nodev`,
        'virtos-rw',
        scratch,
      ],
      scratch,
    );
    scratchMounted = true;
    await mkdir(join(scratch, 'upper'), { mode: 0o755 });
    await mkdir(join(scratch, 'work'), { mode: 0o755 });
    // SECURITY: the layers are lowers, which overlayfs never writes to, so environments cannot change
    // the shared cache. nodev: device nodes in layers are not honoured (the runtime mounts /dev).
    await runMount(
      exec,
      [
        'mount',
        '-t',
        'overlay',
        '-o',
        `nodev,lowerdir=${lower},upperdir=${join(scratch, 'upper')},workdir=${join(scratch, 'work')}`,
        'virtos-root',
        target,
      ],
      target,
    );
    overlayMounted = true;
  } catch (e) {
    await undo().catch(() => undefined);
    throw e;
  }
  let disposing: Promise<void> | undefined;
  return {
    path: target,
    scratch,
    key: image.key,
    writableMiB: opts.writableMiB,
    dispose: () =>
      (disposing ??= undo().catch((e: unknown) => {
        disposing = undefined; // let the caller retry once whatever kept it busy has stopped
        throw e;
      })),
  };
}
