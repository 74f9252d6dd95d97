/**
 * The sandbox policy: a pure function from an environment's security, resources and display to an
 * OCI runtime config (config.json). The same config runs under crun, runc and runsc. Nothing here
 * touches the host; the runtime driver writes the result into a bundle.
 */
import { defineErrors } from '@virtos/core';
import type { Capability, Display, ResourcesSpec, SecuritySpec } from '@virtos/spec';
import type { OciConfig, OciMount, OciNamespace } from './oci-types.js';
import { buildSeccompProfile, type SeccompLevel } from './seccomp.js';

/** Errors of the sandbox policy. */
export const SandboxErrors = defineErrors('sandbox', {
  invalid_policy: 'invalid_argument',
});

/** The uid and gid of the unprivileged user every image provides (`user`, home /home/user). */
export const DESKTOP_USER = { uid: 1000, gid: 1000, home: '/home/user' } as const;

/** Where the display's Unix socket directory appears inside the sandbox. */
export const VNC_DIR_IN_SANDBOX = '/run/vnc';

/** Default pids.max per display kind: enough for a browser, small enough to stop a fork bomb. */
export const DEFAULT_PIDS_LIMIT: Readonly<Record<Display, number>> = {
  none: 256,
  terminal: 512,
  desktop: 2048,
};

/** Size of /dev/shm in MiB (Firefox and Xvnc use shared memory; it counts against memory.max). */
export const SHM_MiB = 256;

/** A host path made visible inside the sandbox. */
export interface BindMount {
  /** Absolute path on the host. */
  readonly source: string;
  /** Absolute path inside the sandbox. */
  readonly destination: string;
  /** Read-only unless explicitly false. */
  readonly readOnly?: boolean;
}

/** A user namespace mapping: sandbox ids 0..size-1 map to host ids hostId..hostId+size-1. */
export interface UserNamespaceMapping {
  readonly hostId: number;
  readonly size: number;
}

/** Everything the policy needs. Sizes in MiB. */
export interface SandboxPolicyInput {
  readonly security: SecuritySpec;
  readonly resources: ResourcesSpec;
  readonly display: Display;
  /** The root filesystem directory on the host (an overlay mount prepared by the images package). */
  readonly rootfsPath: string;
  /** The program and its arguments. */
  readonly args: readonly string[];
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory inside the sandbox; defaults to the user's home. */
  readonly cwd?: string;
  /** The user to run as; defaults to {@link DESKTOP_USER} (uid/gid 1000). */
  readonly user?: { readonly uid: number; readonly gid: number };
  readonly hostname?: string;
  /** Additional bind mounts (read-only unless `readOnly: false`). */
  readonly mounts?: readonly BindMount[];
  /** A host directory owned by the sandbox user, bind-mounted at /run/vnc for the display socket. */
  readonly vncDir?: string;
  /** Join this network namespace (from the network manager); without it: a fresh, empty one. */
  readonly netnsPath?: string;
  /** The cgroup path (relative to the cgroup root), e.g. `/virtos/<id>`. */
  readonly cgroupsPath?: string;
  /** A user namespace mapping, when the runtime and root filesystem support it. */
  readonly userNamespace?: UserNamespaceMapping;
  /** pids.max; defaults per display kind ({@link DEFAULT_PIDS_LIMIT}). */
  readonly pidsLimit?: number;
  /** Size bound of each RAM-backed writable mount (/tmp, /home/user, /run), MiB; default diskMiB. */
  readonly writableMiB?: number;
  /**
   * RLIMIT_NOFILE (soft = hard). The runtime cannot raise it above the caller's own hard limit, so
   * the driver passes min(host hard limit, 65536). Default 4096.
   */
  readonly nofileLimit?: number;
  /** Annotations recorded in the config (e.g. the environment id). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The seccomp level an environment gets: the stricter of its isolation level and its profile. */
export function seccompLevelFor(security: SecuritySpec): SeccompLevel {
  if (security.isolation !== 'standard') return 'strict';
  // `unconfined-vm` names the profile a VM monitor (QEMU) runs under; a container never runs
  // unconfined, so it gets the default profile.
  return security.seccompProfile === 'strict' ? 'strict' : 'default';
}

const ABS_PATH_RE = /^\/[^\0]*$/;

function assertAbsolute(path: string, what: string): void {
  if (!ABS_PATH_RE.test(path) || path.split('/').includes('..')) {
    throw SandboxErrors.create('invalid_policy', `${what} must be an absolute path without '..'.`, {
      subject: path,
      hint: 'Pass a normalised absolute path.',
    });
  }
}

/** Linux capability names the policy may emit (the spec's grantable set). */
function grantedCapabilities(security: SecuritySpec): string[] {
  const caps = new Set<Capability>(security.capabilities);
  return [...caps].sort();
}

/**
 * Builds the OCI runtime config for one environment. Pure: same input, same output.
 *
 * @throws `sandbox.invalid_policy` when a path is not absolute or a limit is out of range.
 */
export function buildOciConfig(input: SandboxPolicyInput): OciConfig {
  assertAbsolute(input.rootfsPath, 'rootfsPath');
  for (const m of input.mounts ?? []) {
    assertAbsolute(m.source, 'mount source');
    assertAbsolute(m.destination, 'mount destination');
  }
  if (input.vncDir !== undefined) assertAbsolute(input.vncDir, 'vncDir');
  if (input.netnsPath !== undefined) assertAbsolute(input.netnsPath, 'netnsPath');
  if (input.args.length === 0) {
    throw SandboxErrors.create('invalid_policy', 'The sandbox process needs a program to run.', {
      hint: 'Pass args, e.g. ["/bin/sh"].',
    });
  }
  const user = input.user ?? DESKTOP_USER;
  const pidsLimit = input.pidsLimit ?? DEFAULT_PIDS_LIMIT[input.display];
  if (!Number.isInteger(pidsLimit) || pidsLimit < 8) {
    throw SandboxErrors.create('invalid_policy', `pids limit ${pidsLimit} is too small.`, {
      hint: 'Use at least 8.',
    });
  }
  const memoryBytes = input.resources.memoryMiB * 1024 * 1024;
  const writableMiB = Math.max(1, Math.floor(input.writableMiB ?? input.resources.diskMiB));
  const caps = grantedCapabilities(input.security);
  const nofile = Math.max(64, Math.floor(input.nofileLimit ?? 4096));
  const ownerOpts = [`uid=${user.uid}`, `gid=${user.gid}`];

  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      // SECURITY: a private devpts instance: the sandbox sees only its own pseudo-terminals.
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${SHM_MiB}m`],
    },
    {
      destination: '/dev/mqueue',
      type: 'mqueue',
      source: 'mqueue',
      options: ['nosuid', 'noexec', 'nodev'],
    },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      // SECURITY: sysfs read-only; the sandbox has no capability to change it anyway.
      options: ['nosuid', 'noexec', 'nodev', 'ro'],
    },
    // RAM-backed writable places (zero-knowledge rule: user data never lands on host disk).
    {
      destination: '/tmp',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'mode=1777', `size=${writableMiB}m`],
    },
    {
      destination: '/run',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'mode=755', `size=${Math.min(writableMiB, 64)}m`],
    },
    {
      destination: DESKTOP_USER.home,
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'mode=700', ...ownerOpts, `size=${writableMiB}m`],
    },
  ];
  if (input.vncDir !== undefined) {
    // SECURITY: the only host directory shared read-write: an empty directory created per
    // environment and owned by the sandbox user; it carries the display socket and nothing else.
    mounts.push({
      destination: VNC_DIR_IN_SANDBOX,
      type: 'bind',
      source: input.vncDir,
      options: ['rbind', 'rw', 'nosuid', 'nodev', 'noexec'],
    });
  }
  for (const m of input.mounts ?? []) {
    // SECURITY: extra binds are read-only unless the caller asks otherwise, and never carry
    // setuid binaries or device nodes.
    mounts.push({
      destination: m.destination,
      type: 'bind',
      source: m.source,
      options: ['rbind', m.readOnly === false ? 'rw' : 'ro', 'nosuid', 'nodev'],
    });
  }

  const namespaces: OciNamespace[] = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    { type: 'cgroup' },
    // SECURITY: the network namespace is either the one the network manager prepared for this
    // environment's mode, or a fresh one with only loopback (no route out, host 127.0.0.1 unreachable).
    input.netnsPath !== undefined
      ? { type: 'network', path: input.netnsPath }
      : { type: 'network' },
  ];
  if (input.userNamespace !== undefined) namespaces.push({ type: 'user' });
  const idMap = input.userNamespace && [
    { containerID: 0, hostID: input.userNamespace.hostId, size: input.userNamespace.size },
  ];

  const env = [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    `HOME=${user.uid === 0 ? '/root' : DESKTOP_USER.home}`,
    `USER=${user.uid === 0 ? 'root' : 'user'}`,
    'LANG=C.UTF-8',
    ...Object.entries(input.env ?? {}).map(([k, v]) => `${k}=${v}`),
  ];

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: user.uid, gid: user.gid },
      args: [...input.args],
      env,
      cwd: input.cwd ?? (user.uid === 0 ? '/' : DESKTOP_USER.home),
      // SECURITY: every capability is dropped from every set, except those the spec grants (the
      // spec's schema allows only a closed list, and the composer flags each grant as a finding).
      // Granted capabilities are ambient so a non-root user keeps them across execve.
      capabilities: {
        bounding: caps,
        effective: caps,
        permitted: caps,
        inheritable: [],
        ambient: user.uid === 0 ? [] : caps,
      },
      rlimits: [
        { type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile },
        // SECURITY: no core dumps: a dump could hold user data outside RAM-backed storage.
        { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
      ],
      // SECURITY: setuid binaries and file capabilities cannot raise privileges inside the sandbox.
      noNewPrivileges: true,
      // SECURITY: under memory pressure the kernel kills environments before the daemon.
      oomScoreAdj: 500,
    },
    // SECURITY: read-only root when the spec asks (the default); writes then go only to the tmpfs
    // mounts above. A writable root is still an overlay with a RAM upper layer (images package).
    root: { path: input.rootfsPath, readonly: input.security.readOnlyRoot },
    hostname: input.hostname ?? 'virtos',
    mounts,
    annotations: { 'org.virtos.policy': 'v1', ...(input.annotations ?? {}) },
    linux: {
      namespaces,
      ...(idMap && { uidMappings: idMap, gidMappings: idMap }),
      ...(input.cgroupsPath !== undefined && { cgroupsPath: input.cgroupsPath }),
      resources: {
        // SECURITY: memory.max with no swap: a memory hog is OOM-killed inside its own cgroup.
        memory: { limit: memoryBytes, swap: memoryBytes },
        cpu: { quota: Math.round(input.resources.cpus * 100_000), period: 100_000 },
        // SECURITY: pids.max stops fork bombs.
        pids: { limit: pidsLimit },
        // SECURITY: deny every device, then allow only the harmless character devices a program
        // needs (null, zero, full, random, urandom, tty, ptmx and its own pts).
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
          { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
          { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
          { allow: true, type: 'c', major: 136, access: 'rwm' },
        ],
      },
      // SECURITY: the seccomp deny list (seccomp.ts); `strict` for hardened and maximum isolation.
      seccomp: buildSeccompProfile(seccompLevelFor(input.security)),
      // SECURITY: kernel interfaces that leak host data or control the host are masked (replaced by
      // an empty file or directory) or made read-only.
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
        '/sys/devices/virtual/powercap',
        '/sys/kernel/debug',
      ],
      // /proc/sysrq-trigger is read-only rather than masked: a mask is a /dev/null bind, where a
      // write would quietly succeed instead of failing visibly.
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
