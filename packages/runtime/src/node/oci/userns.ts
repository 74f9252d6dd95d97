/**
 * User namespaces for OCI environments: every environment gets its own range of 65,536 host ids, so
 * root inside an environment is an unprivileged, otherwise unused id on the host, and two
 * environments never share an id.
 *
 * The runtime (crun, runc) performs the root file system's mounts inside the new user namespace, so
 * the mapped root must be able to reach the root file system's path. The provisioner's roots live
 * in root-only (0700) directories; instead of opening those, each environment gets a directory
 * `<dir>/<name>` owned by its own mapped root (0700) in which its root file system is bind-mounted.
 * Slots are claimed with files under `<dir>/.slots` made by link(2) of a complete temp file, so
 * concurrent creates (also from several processes) never get the same range and a crash never
 * leaves a slot file without its owner's name.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, statSync } from 'node:fs';
import {
  chmod,
  chown,
  link,
  mkdir,
  readdir,
  readFile,
  rm,
  rmdir,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { mountsUnder, readMounts } from '@virtos/images';
import type { UserNamespaceMapping } from '@virtos/sandbox';
import { RuntimeErrors } from '../../common/errors.js';
import type { OciRuntimeName } from './oci-cli.js';

const execFileAsync = promisify(execFile);

/** Where per-environment user-namespace directories live by default (RAM-backed /run). */
export const DEFAULT_USERNS_DIR = '/run/virtos-userns';
/** The first host id handed to environments: far above the ranges of /etc/subuid's usual users. */
export const USERNS_BASE_ID = 1 << 30;
/** Ids per environment: the full 16-bit range programs expect (root 0 .. nobody 65534). */
export const USERNS_SIZE = 65_536;
/** How many environments can hold a range at once (BASE + SLOTS * SIZE = 2^31). */
export const USERNS_SLOTS = 16_384;

/** Why user namespaces are off for a runtime or host, or undefined when they can be used. */
export function usernsUnavailableReason(runtime: OciRuntimeName): string | undefined {
  if (runtime === 'runsc') {
    return 'runsc isolates with its own kernel and runs its sandbox as an unprivileged user already';
  }
  try {
    const max = Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim());
    if (!(max > 0)) return 'the kernel allows no user namespaces (user.max_user_namespaces = 0)';
  } catch {
    return 'the kernel has no user namespaces (/proc/sys/user/max_user_namespaces is missing)';
  }
  return undefined;
}

/** A claimed range and where the environment's root file system is reachable for its mapped root. */
export interface UsernsLease extends UserNamespaceMapping {
  /** The bind mount of the environment's root file system, for the OCI config's `root.path`. */
  readonly rootfsPath: string;
  /** The host id of a container id (e.g. the desktop user's 1000). */
  hostIdOf(containerId: number): number;
}

/** Hands out id ranges and rootfs bind mounts; one per driver. */
export class UsernsAllocator {
  private ready: Promise<void> | undefined;

  constructor(readonly dir: string = DEFAULT_USERNS_DIR) {}

  /**
   * Claims a range for container `name` and bind-mounts `rootfs` where only its mapped root (and
   * host root) can reach it.
   */
  async acquire(name: string, rootfs: string): Promise<UsernsLease> {
    await this.ensureDir();
    const slot = await this.claimSlot(name);
    const hostId = USERNS_BASE_ID + slot * USERNS_SIZE;
    const envDir = join(this.dir, name);
    const target = join(envDir, 'rootfs');
    try {
      await mkdir(target, { recursive: true, mode: 0o700 });
      // SECURITY: the directory belongs to this environment's mapped root, an id no host account
      // has, and is 0700: no other host user and no other environment can traverse to the root.
      await chown(envDir, hostId, hostId);
      await chmod(envDir, 0o700);
      // SECURITY: a plain bind of the environment's own root file system (read-only or not is the
      // OCI config's `root.readonly`); it carries no other host path.
      await execFileAsync('mount', ['--bind', rootfs, target]);
    } catch (e) {
      await this.release(name).catch(() => undefined);
      throw RuntimeErrors.create(
        'failed',
        `Could not prepare the user namespace of ${name}: ${(e as Error).message.split('\n')[0] ?? ''}`,
        { subject: name, hint: 'Run as root; `virtos doctor` lists what this host supports.' },
      );
    }
    return {
      hostId,
      size: USERNS_SIZE,
      rootfsPath: target,
      hostIdOf: (id) => hostId + id,
    };
  }

  /** Unmounts and removes what {@link acquire} made for `name` and frees its slot. Idempotent. */
  async release(name: string): Promise<void> {
    const envDir = join(this.dir, name);
    const target = join(envDir, 'rootfs');
    if (mountsUnder(await readMounts(), target).length > 0) {
      // SECURITY: unmounts only this environment's bind (the provisioner unmounts the root itself).
      await execFileAsync('umount', [target]).catch(async () => {
        await execFileAsync('umount', ['--lazy', target]);
      });
    }
    await rmdir(target).catch(() => undefined);
    await rmdir(envDir).catch(() => undefined);
    const slots = join(this.dir, '.slots');
    for (const f of await readdir(slots).catch(() => [] as string[])) {
      const owner = await readFile(join(slots, f), 'utf8').catch(() => '');
      if (owner === name) await unlink(join(slots, f)).catch(() => undefined);
    }
  }

  /** Names of the containers holding a slot (for leftover detection). */
  async holders(): Promise<string[]> {
    const slots = join(this.dir, '.slots');
    const out: string[] = [];
    for (const f of await readdir(slots).catch(() => [] as string[])) {
      if (!SLOT_FILE_RE.test(f)) continue;
      const owner = await readFile(join(slots, f), 'utf8').catch(() => '');
      if (owner) out.push(owner);
    }
    return out;
  }

  private ensureDir(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(join(this.dir, '.slots'), { recursive: true, mode: 0o700 });
      // SECURITY: others may traverse (x) but not list (r) the directory: every entry below is
      // 0700 and owned by one environment's mapped root; `.slots` is root-only.
      await chmod(this.dir, 0o711);
      await chmod(join(this.dir, '.slots'), 0o700);
      for (let d = dirname(this.dir); ; d = dirname(d)) {
        if ((statSync(d).mode & 0o001) === 0) {
          throw RuntimeErrors.create(
            'unavailable',
            `User namespaces need ${d} to be traversable by other users (mode o+x).`,
            { subject: this.dir, hint: 'Choose a user-namespace directory under /run or /tmp.' },
          );
        }
        if (d === dirname(d)) break;
      }
    })();
    return this.ready;
  }

  private claimSlot(name: string): Promise<number> {
    return claimSlotFile(join(this.dir, '.slots'), name);
  }
}

/** Slot files are named by their number; anything else in `.slots` is a temp file. */
const SLOT_FILE_RE = /^\d+$/;

/**
 * Claims the lowest free slot in `slotsDir` for `name` and returns its number. The name is written
 * to a temp file first and the temp file is then hard-linked to the slot's path: link(2) fails with
 * EEXIST when the slot is taken (exclusive, like O_EXCL) and the slot file appears with its whole
 * content at once, so a crash never leaves an empty slot file that no release could attribute. A
 * temp file left by a crash holds the name too, so `release(name)` removes it.
 */
export async function claimSlotFile(
  slotsDir: string,
  name: string,
  slotCount: number = USERNS_SLOTS,
): Promise<number> {
  const used = new Set(
    (await readdir(slotsDir).catch(() => [] as string[]))
      .filter((f) => SLOT_FILE_RE.test(f))
      .map(Number),
  );
  const tmp = join(slotsDir, `.claim-${randomBytes(6).toString('hex')}`);
  await writeFile(tmp, name, { mode: 0o600, flag: 'wx' });
  try {
    for (let slot = 0; slot < slotCount; slot++) {
      if (used.has(slot)) continue;
      try {
        await link(tmp, join(slotsDir, String(slot)));
        return slot;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  throw RuntimeErrors.create('unavailable', `All ${slotCount} user-namespace ranges are taken.`, {
    subject: name,
    hint: 'Remove environments, or run `virtos doctor --cleanup` for leftovers.',
  });
}

/** Removes a leftover slot/bind of `name` under `dir` (doctor's cleanup). */
export async function releaseUserns(dir: string, name: string): Promise<void> {
  await new UsernsAllocator(dir).release(name);
  await rm(join(dir, name), { recursive: false, force: true }).catch(() => undefined);
}

/** One mount of an OCI config, as far as target preparation needs it. */
interface MountLike {
  readonly destination: string;
  readonly type?: string;
  readonly source?: string;
}

/**
 * Creates the missing mount points of `mounts` inside `rootfs` (an empty file for a bind of a
 * file, else a directory), as host root, before the runtime starts. Without a user namespace the
 * runtime creates them itself; inside one, its mapped root may not write into directories owned by
 * host root (e.g. /etc/hosts for the network's bind when the image has none).
 *
 * SECURITY: writes go through the environment's own overlay into its RAM upper layer. Paths are
 * walked component by component with lstat and a target whose path holds a symlink is skipped (the
 * runtime then resolves it inside the root, as it always does), so nothing outside the root is
 * ever created.
 */
export async function ensureMountTargets(
  rootfs: string,
  mounts: readonly MountLike[],
): Promise<void> {
  for (const m of mounts) {
    const parts = m.destination.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.length === 0 || parts.includes('..')) continue;
    let path = rootfs;
    let safe = true;
    for (const [i, part] of parts.entries()) {
      path = join(path, part);
      let st: ReturnType<typeof lstatSync> | undefined;
      try {
        st = lstatSync(path);
      } catch {
        st = undefined;
      }
      if (st?.isSymbolicLink()) {
        safe = false;
        break;
      }
      const last = i === parts.length - 1;
      if (st !== undefined) continue;
      const fileTarget = last && m.type === 'bind' && m.source !== undefined && isFile(m.source);
      if (fileTarget) await writeFile(path, '', { flag: 'wx', mode: 0o644 });
      else await mkdir(path, { mode: 0o755 });
    }
    if (!safe) continue;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
