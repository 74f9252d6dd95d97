/**
 * Finds and removes leftovers of crashed runs of the oci driver: containers still known to a runtime,
 * bundle and VNC directories, mounts under the state dir, and cgroups under `virtos-rt`. Only names
 * with the `virtos-` prefix under the driver's own state dir and cgroup parent are touched.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OCI_RUNTIMES, OciCli } from './oci/oci-cli.js';
import {
  CGROUP_PARENT,
  CONTAINER_PREFIX,
  DEFAULT_STATE_DIR,
  cgroupRoots,
} from './oci/oci-driver.js';
import { which } from './probe.js';
import { DEFAULT_PROVISIONER_STATE_DIR } from './provisioner.js';
import { DEFAULT_USERNS_DIR, UsernsAllocator } from './oci/userns.js';

const run = promisify(execFile);

/** One leftover and what was done about it. */
export interface Leftover {
  readonly kind: 'container' | 'bundle' | 'vnc-dir' | 'mount' | 'cgroup' | 'record' | 'userns';
  readonly name: string;
  /** Set after a cleanup: whether it is gone. */
  readonly removed?: boolean;
  readonly error?: string;
}

function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (mp && (mp === dir || mp.startsWith(`${dir}/`))) out.push(mp);
  }
  // Deepest first, so nested mounts come off before their parents.
  return out.sort((a, b) => b.length - a.length);
}

/** The parent pid and command name of a process, or undefined when it is gone. */
function procInfo(pid: number): { ppid: number; comm: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    return { ppid, comm };
  } catch {
    return undefined;
  }
}

/**
 * Names of environments (`virtos-<id>`) whose processes are still supervised by their OCI runtime:
 * a process of the environment's cgroup whose parent lies outside the cgroup is a live crun, runc
 * or runsc (the driver's detached shim keeps it running across daemon restarts). A crashed
 * sandbox's processes are orphans instead (re-parented to init or a subreaper).
 */
function supervisedContainers(): Set<string> {
  const out = new Set<string>();
  for (const cg of envCgroups()) {
    let pids: number[];
    try {
      pids = readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      continue;
    }
    const inside = new Set(pids);
    for (const pid of pids) {
      const me = procInfo(pid);
      if (!me || inside.has(me.ppid) || me.ppid <= 1) continue;
      const parent = procInfo(me.ppid);
      if (parent && /^(crun|runc|runsc)/.test(parent.comm)) {
        out.add(cg.split('/').pop() as string);
        break;
      }
    }
  }
  return out;
}

/** Ids of the environments whose OCI runtime still supervises them (see supervisedContainers). */
export function supervisedEnvironmentIds(): string[] {
  return [...supervisedContainers()].map((n) => n.slice(CONTAINER_PREFIX.length));
}

function envCgroups(): string[] {
  const out: string[] = [];
  for (const root of cgroupRoots()) {
    const parent = join(root, CGROUP_PARENT);
    if (!existsSync(parent)) continue;
    for (const d of readdirSync(parent)) {
      if (d.startsWith(CONTAINER_PREFIX)) out.push(join(parent, d));
    }
  }
  return out;
}

/**
 * Lists (and with `remove`, removes) leftovers under `stateDir` and the provisioner's state dir (root
 * mounts under `roots/`, records under `envs/`, removed after the mounts so a failed unmount keeps
 * its record). `liveIds` are environment ids that
 * are running right now and must be kept (the daemon passes its registry; doctor passes none when no
 * daemon runs).
 */
export async function cleanupLeftovers(opts: {
  readonly stateDir?: string;
  /** The provisioner's state dir (root mounts and records); default /run/virtos/provisioner. */
  readonly provisionerStateDir?: string;
  readonly remove: boolean;
  readonly liveIds?: readonly string[];
  /** The oci driver's user-namespace directory; default /run/virtos-userns. */
  readonly usernsDir?: string;
}): Promise<Leftover[]> {
  const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
  // Environments outlive the daemon: one whose runtime still supervises it (a daemon is merely
  // restarting, or runs with another state dir) is live, never a leftover.
  const supervised = supervisedContainers();
  const keep = new Set([
    ...(opts.liveIds ?? []).map((id) => `${CONTAINER_PREFIX}${id}`),
    ...supervised,
  ]);
  const found: Leftover[] = [];
  const signal = AbortSignal.timeout(60_000);
  const attempt = async (l: Leftover, fn: () => Promise<unknown>): Promise<void> => {
    if (!opts.remove) return void found.push(l);
    try {
      await fn();
      found.push({ ...l, removed: true });
    } catch (e) {
      found.push({ ...l, removed: false, error: (e as Error).message.split('\n')[0] ?? '' });
    }
  };

  for (const runtime of OCI_RUNTIMES) {
    const binary = which(runtime);
    const root = join(stateDir, runtime);
    if (!binary || !existsSync(root)) continue;
    const cli = new OciCli({ runtime, binary, root });
    for (const name of await cli.list(signal)) {
      if (!name.startsWith(CONTAINER_PREFIX) || keep.has(name)) continue;
      // SECURITY: only containers in VirtOS's own runtime root with the virtos- prefix are killed.
      await attempt({ kind: 'container', name: `${runtime}:${name}` }, () =>
        cli.check(signal, ['delete', '--force', name], name),
      );
    }
  }
  for (const mp of mountsUnder(stateDir)) {
    if ([...keep].some((k) => mp.includes(k))) continue;
    await attempt({ kind: 'mount', name: mp }, () => run('umount', ['-l', mp]));
  }
  for (const sub of ['bundles', 'vnc'] as const) {
    const dir = join(stateDir, sub);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(CONTAINER_PREFIX) || keep.has(name)) continue;
      await attempt({ kind: sub === 'bundles' ? 'bundle' : 'vnc-dir', name: join(dir, name) }, () =>
        rm(join(dir, name), { recursive: true, force: true }),
      );
    }
  }
  const userns = new UsernsAllocator(opts.usernsDir ?? DEFAULT_USERNS_DIR);
  for (const name of await userns.holders()) {
    if (!name.startsWith(CONTAINER_PREFIX) || keep.has(name)) continue;
    // SECURITY: only the root bind and id-range slot of a VirtOS container that is not live.
    await attempt({ kind: 'userns', name: join(userns.dir, name) }, () => userns.release(name));
  }
  for (const cg of envCgroups()) {
    if (keep.has(cg.split('/').pop() as string)) continue;
    await attempt({ kind: 'cgroup', name: cg }, async () => {
      // SECURITY: processes left in an environment's cgroup belong to a crashed sandbox; thaw the
      // freezer (frozen tasks cannot die) and SIGKILL them before removing the empty cgroup.
      const freezer = join(cg, 'freezer.state');
      if (existsSync(freezer)) writeFileSync(freezer, 'THAWED');
      const procs = join(cg, 'cgroup.procs');
      if (existsSync(procs)) {
        for (const pid of readFileSync(procs, 'utf8').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      for (let i = 0; i < 50; i++) {
        try {
          await rmdir(cg);
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || i === 49) throw e;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
  }
  const prov = opts.provisionerStateDir ?? DEFAULT_PROVISIONER_STATE_DIR;
  const keepIds = new Set([
    ...(opts.liveIds ?? []),
    ...[...supervised].map((n) => n.slice(CONTAINER_PREFIX.length)),
  ]);
  const idOf = (path: string): string =>
    (path.slice(join(prov, 'roots').length + 1).split('/')[0] ?? '').replace(/\.rw$/, '');
  for (const mp of mountsUnder(join(prov, 'roots'))) {
    if (mp === join(prov, 'roots') || keepIds.has(idOf(mp))) continue;
    // SECURITY: only mounts below the provisioner's own roots directory, of environments that are
    // not live; their sandboxes were removed above.
    await attempt({ kind: 'mount', name: mp }, () => run('umount', ['-l', mp]));
  }
  const envDir = join(prov, 'envs');
  if (existsSync(envDir)) {
    for (const f of readdirSync(envDir)) {
      const id = f.replace(/\.json(\.tmp)?$/, '');
      if (keepIds.has(id) || !/^[a-z0-9][a-z0-9_-]{0,62}\.json(\.tmp)?$/.test(f)) continue;
      await attempt({ kind: 'record', name: join(envDir, f) }, async () => {
        await rmdir(join(prov, 'roots', id)).catch(() => undefined);
        await rmdir(join(prov, 'roots', `${id}.rw`)).catch(() => undefined);
        await rm(join(envDir, f), { force: true });
      });
    }
  }
  return found;
}
