/**
 * The host capability probe: which OCI runtimes work here and why not, whether hardware
 * virtualization is usable, the cgroup layout, overlayfs, nftables, Tor and WireGuard. Checks by
 * behaviour where it is cheap (a real smoke run of each runtime), by kernel facts otherwise.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { RuntimeErrors } from '../common/errors.js';
import { OCI_RUNTIMES, type OciRuntimeName } from './oci/oci-cli.js';
import { OciDriver } from './oci/oci-driver.js';
import { createMiniRootfs, findStaticBusybox } from './oci/mini-rootfs.js';

const run = promisify(execFile);

/** The status of one probed part. */
export type ProbeStatus = 'ok' | 'unusable' | 'absent';

/** What the probe found about one OCI runtime. */
export interface RuntimeProbe {
  readonly name: OciRuntimeName;
  readonly status: ProbeStatus;
  readonly version?: string;
  readonly binary?: string;
  /** Why it is unusable or absent (empty when ok). */
  readonly reason: string;
  /** What would fix it, when something would. */
  readonly remedy?: string;
  /** Measured start-to-exit of `/bin/true` in the smoke run, ms. */
  readonly smokeMs?: number;
}

/** One other host feature. */
export interface FeatureProbe {
  readonly status: ProbeStatus;
  readonly detail: string;
}

/** The whole host report (`virtos doctor --json`). */
export interface HostReport {
  readonly runtimes: Readonly<Record<OciRuntimeName, RuntimeProbe>>;
  /** The runtime the `container` class uses here (crun, else runc), if any. */
  readonly preferredRuntime: OciRuntimeName | undefined;
  readonly cgroups: FeatureProbe & { readonly layout: 'v1' | 'hybrid' | 'v2' | 'none' };
  readonly virtualization: FeatureProbe;
  readonly overlayfs: FeatureProbe;
  readonly nftables: FeatureProbe;
  readonly tor: FeatureProbe;
  readonly wireguard: FeatureProbe;
}

/** Finds an executable on PATH (plus the sbin dirs). */
export function which(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

interface CgroupMount {
  readonly fstype: 'cgroup' | 'cgroup2';
  readonly mountPoint: string;
  readonly options: string;
}

function cgroupMounts(): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const parts = line.split(' ');
    const sep = parts.indexOf('-');
    const fstype = parts[sep + 1];
    if (fstype === 'cgroup' || fstype === 'cgroup2') {
      out.push({ fstype, mountPoint: parts[4] as string, options: parts[sep + 3] ?? '' });
    }
  }
  return out;
}

/** The cgroup layout, and the v2 controllers that a hybrid layout leaves on v2. */
export function probeCgroups(): HostReport['cgroups'] & { readonly v2Controllers: string[] } {
  const mounts = cgroupMounts();
  const v1 = mounts.filter((m) => m.fstype === 'cgroup');
  const v2 = mounts.find((m) => m.fstype === 'cgroup2');
  let v2Controllers: string[] = [];
  if (v2) {
    try {
      v2Controllers = readFileSync(join(v2.mountPoint, 'cgroup.controllers'), 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean);
    } catch {
      // unreadable: treat as none
    }
  }
  const layout = v1.length && v2 ? 'hybrid' : v1.length ? 'v1' : v2 ? 'v2' : 'none';
  const detail =
    layout === 'hybrid'
      ? `hybrid: ${v1.length} v1 hierarchies, cgroup2 at ${v2?.mountPoint} with controllers [${v2Controllers.join(' ')}]`
      : layout === 'none'
        ? 'no cgroup filesystem mounted'
        : `${layout} (${mounts.map((m) => m.mountPoint).join(', ')})`;
  return { status: layout === 'none' ? 'absent' : 'ok', layout, detail, v2Controllers };
}

/**
 * crun 1.8.1 refuses a hybrid layout where a controller (here hugetlb) is enabled on cgroup2. The
 * remedy mounts that controller as a v1 hierarchy, which takes it off cgroup2.
 */
export const CRUN_HYBRID_REMEDY =
  'mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb (or `virtos doctor --fix` as root), or use runc';

/**
 * Applies the crun hybrid-cgroup remedy: mounts each controller still on cgroup2 as a v1 hierarchy.
 * Returns the controllers moved.
 */
export async function applyCrunCgroupRemedy(): Promise<string[]> {
  const { layout, v2Controllers } = probeCgroups();
  if (layout !== 'hybrid') return [];
  const moved: string[] = [];
  for (const c of v2Controllers) {
    if (!/^[a-z_]+$/.test(c)) continue;
    const dir = `/sys/fs/cgroup/${c}`;
    // SECURITY: mounting a cgroup v1 hierarchy only changes where the controller is exposed; it
    // grants nothing to sandboxes (they never see the host's cgroup tree). Root only.
    await mkdir(dir, { recursive: true });
    await run('mount', ['-t', 'cgroup', '-o', c, 'cgroup', dir]);
    moved.push(c);
  }
  return moved;
}

async function versionOf(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 10_000 });
    return stdout.split('\n')[0]?.trim();
  } catch {
    return undefined;
  }
}

/** Probes one runtime by a real smoke run of `/bin/true` in a minimal sandbox. */
export async function probeRuntime(name: OciRuntimeName): Promise<RuntimeProbe> {
  const binary = which(name);
  if (!binary) {
    return {
      name,
      status: 'absent',
      reason: `${name} is not installed`,
      remedy: `apt-get install ${name}`,
    };
  }
  const version = await versionOf(binary);
  const base = { name, binary, ...(version !== undefined && { version }) };
  const cg = probeCgroups();
  if (name === 'crun' && cg.layout === 'hybrid' && cg.v2Controllers.length > 0) {
    return {
      ...base,
      status: 'unusable',
      reason: `crun refuses this host's hybrid cgroup layout ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"): cgroup2 still has [${cg.v2Controllers.join(' ')}]`,
      remedy: CRUN_HYBRID_REMEDY,
    };
  }
  if (process.getuid?.() !== 0) {
    return {
      ...base,
      status: 'unusable',
      reason: 'not running as root (rootless mode is not supported yet)',
      remedy: 'run the daemon as root',
    };
  }
  if (!findStaticBusybox()) {
    return {
      ...base,
      status: 'ok',
      reason: 'not smoke-tested: no static busybox (apt-get install busybox-static)',
    };
  }
  const stateDir = `/run/virtos-probe-${randomBytes(4).toString('hex')}`;
  const rootfs = await createMiniRootfs();
  const driver = new OciDriver({ runtime: name, binary, stateDir });
  const ctx = { signal: AbortSignal.timeout(30_000) };
  const id = `probe-${randomBytes(4).toString('hex')}`;
  try {
    const t0 = performance.now();
    await driver.create(ctx, {
      id,
      spec: {
        display: 'none',
        security: {
          isolation: 'standard',
          capabilities: [],
          seccompProfile: 'default',
          readOnlyRoot: true,
        },
        resources: { cpus: 1, memoryMiB: 64, diskMiB: 256, gpus: 0 },
      },
      rootfs: rootfs.path,
      process: { args: ['/bin/true'] },
    });
    await driver.start(ctx, id);
    const { exitCode } = await driver.wait(ctx, id);
    const smokeMs = Math.round(performance.now() - t0);
    if (exitCode !== 0) {
      return { ...base, status: 'unusable', reason: `smoke run exited ${exitCode}` };
    }
    return { ...base, status: 'ok', reason: '', smokeMs };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { ...base, status: 'unusable', reason: `smoke run failed: ${msg.slice(0, 400)}` };
  } finally {
    await driver.delete({ signal: AbortSignal.timeout(30_000) }, id).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
    await rootfs.dispose();
  }
}

/** Probes every OCI runtime. */
export async function probeRuntimes(): Promise<Record<OciRuntimeName, RuntimeProbe>> {
  const out = {} as Record<OciRuntimeName, RuntimeProbe>;
  for (const name of OCI_RUNTIMES) out[name] = await probeRuntime(name);
  return out;
}

/** Hardware virtualization: /dev/kvm plus the KVM module actually loaded (nested PVM is not usable). */
export function probeVirtualization(): FeatureProbe {
  if (!existsSync('/dev/kvm')) return { status: 'absent', detail: '/dev/kvm does not exist' };
  if (existsSync('/sys/module/kvm_pvm')) {
    return {
      status: 'unusable',
      detail:
        '/dev/kvm is nested PVM (kvm_pvm): guests run at a few million instructions/s and never boot; use gVisor (runsc) for the microvm class and TCG for full VMs',
    };
  }
  const mod = ['kvm_intel', 'kvm_amd'].find((m) => existsSync(`/sys/module/${m}`));
  return mod
    ? { status: 'ok', detail: `/dev/kvm with ${mod}` }
    : { status: 'unusable', detail: '/dev/kvm exists but no kvm_intel/kvm_amd module is loaded' };
}

function probeOverlay(): FeatureProbe {
  try {
    const fs = readFileSync('/proc/filesystems', 'utf8');
    return /\boverlay\b/.test(fs)
      ? { status: 'ok', detail: 'overlay in /proc/filesystems' }
      : { status: 'absent', detail: 'overlay not in /proc/filesystems' };
  } catch {
    return { status: 'absent', detail: '/proc/filesystems unreadable' };
  }
}

async function probeNft(): Promise<FeatureProbe> {
  const nft = which('nft');
  if (!nft) return { status: 'absent', detail: 'nft not installed (apt-get install nftables)' };
  const v = await versionOf(nft);
  try {
    await run(nft, ['list', 'tables'], { timeout: 10_000 });
    return { status: 'ok', detail: v ?? 'nft works' };
  } catch (e) {
    return { status: 'unusable', detail: `${v ?? 'nft'}: ${(e as Error).message.split('\n')[0]}` };
  }
}

async function probeTor(): Promise<FeatureProbe> {
  const tor = which('tor');
  if (!tor) return { status: 'absent', detail: 'tor not installed (apt-get install tor)' };
  const v = await versionOf(tor);
  return {
    status: 'ok',
    detail: `${v ?? 'tor'} installed (whether the Tor network is reachable is not tested here)`,
  };
}

function probeWireguard(): FeatureProbe {
  const kernel = existsSync('/sys/module/wireguard');
  const wgGo = which('wireguard-go');
  const wg = which('wg');
  if (kernel) return { status: 'ok', detail: `kernel module loaded${wg ? '; wg installed' : ''}` };
  if (wgGo && wg)
    return { status: 'ok', detail: 'kernel module absent; userspace wireguard-go + wg' };
  return {
    status: 'unusable',
    detail: `kernel module absent; ${wgGo ? '' : 'wireguard-go not installed'}${!wgGo && !wg ? ', ' : ''}${wg ? '' : 'wg not installed'} (apt-get install wireguard-go wireguard-tools)`,
  };
}

/** Probes the whole host. Takes ~0.5 s (smoke runs; runsc is the slowest). */
export async function probeHost(): Promise<HostReport> {
  const runtimes = await probeRuntimes();
  const { v2Controllers: _unused, ...cgroups } = probeCgroups();
  const preferred = (['crun', 'runc'] as const).find((r) => runtimes[r].status === 'ok');
  return {
    runtimes,
    preferredRuntime: preferred,
    cgroups,
    virtualization: probeVirtualization(),
    overlayfs: probeOverlay(),
    nftables: await probeNft(),
    tor: await probeTor(),
    wireguard: probeWireguard(),
  };
}

/** Creates a driver for the given runtime, or throws `runtime.unavailable` with the probe's reason. */
export async function createOciDriver(
  opts: { readonly runtime?: OciRuntimeName; readonly stateDir?: string } = {},
): Promise<OciDriver> {
  const candidates = opts.runtime ? [opts.runtime] : (['crun', 'runc'] as const);
  const reasons: string[] = [];
  for (const name of candidates) {
    const p = await probeRuntime(name);
    if (p.status === 'ok' && p.binary) {
      return new OciDriver({
        runtime: name,
        binary: p.binary,
        ...(opts.stateDir !== undefined && { stateDir: opts.stateDir }),
      });
    }
    reasons.push(`${name}: ${p.reason}${p.remedy ? ` (fix: ${p.remedy})` : ''}`);
  }
  throw RuntimeErrors.create('unavailable', `No usable OCI runtime: ${reasons.join('; ')}`, {
    hint: 'Run `virtos doctor` for details.',
  });
}
