/**
 * Seccomp profiles of the sandbox. Both profiles allow by default and deny a list of system calls
 * that a desktop or terminal application never needs but that widen the kernel's attack surface or
 * let a process leave its namespaces. Denied calls fail with EPERM (not a kill), so programs that
 * probe for a feature fall back gracefully.
 *
 * Why a deny list and not an allow list: environments run arbitrary distro software (browsers,
 * office suites); an allow list that is too narrow breaks them in ways users cannot diagnose. The
 * deny list covers every call that needs a capability we drop anyway (defence in depth) plus the calls
 * that are dangerous without one (unshare, userfaultfd, bpf, perf_event_open, keyctl, io_uring in
 * `strict`).
 */
import type { OciSeccomp, OciSeccompRule } from './oci-types.js';

/** errno returned by denied calls: EPERM. */
export const SECCOMP_DENY_ERRNO = 1;

/** Which profile to build: `default` for `standard` isolation, `strict` for `hardened`/`maximum`. */
export type SeccompLevel = 'default' | 'strict';

/** Calls denied by every profile. */
export const DEFAULT_DENIED_SYSCALLS: readonly string[] = [
  // Filesystem namespaces and mounts: leaving or rearranging the mount namespace.
  'mount',
  'umount',
  'umount2',
  'pivot_root',
  'chroot',
  'open_tree',
  'move_mount',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'mount_setattr',
  // Namespaces: creating or joining namespaces (user namespaces expose many kernel paths).
  'unshare',
  'setns',
  // Tracing another process and reading its memory.
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'kcmp',
  // Kernel attack surface that unprivileged code should not reach.
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'keyctl',
  'add_key',
  'request_key',
  // Kernel code and the machine.
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'create_module',
  'reboot',
  'swapon',
  'swapoff',
  'acct',
  'quotactl',
  'syslog',
  'iopl',
  'ioperm',
  // Clocks of the whole host.
  'settimeofday',
  'clock_settime',
  'clock_adjtime',
  'adjtimex',
  'stime',
  // File handles bypass path-based checks (the "shocker" escape).
  'open_by_handle_at',
  'name_to_handle_at',
  // Obsolete or debug-only interfaces.
  'lookup_dcookie',
  'nfsservctl',
  'uselib',
  'ustat',
  'sysfs',
  '_sysctl',
  'vhangup',
  'get_kernel_syms',
  'query_module',
  'fanotify_init',
];

/** Calls additionally denied by the `strict` profile (`hardened` and `maximum` isolation). */
export const STRICT_EXTRA_DENIED_SYSCALLS: readonly string[] = [
  // io_uring has had a long run of privilege escalations and bypasses seccomp for the ops it runs.
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  // NUMA memory policy calls; no desktop app needs them.
  'mbind',
  'migrate_pages',
  'move_pages',
  'set_mempolicy',
  // Changing one's own I/O priority or scheduling class affects other tenants.
  'ioprio_set',
  // Personality changes (any).
  'personality',
  // Landlock and other kernel-object-creating calls not needed by apps.
  'memfd_secret',
  'pidfd_getfd',
  'process_madvise',
];

/** clone() flags that create namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. */
const CLONE_NAMESPACE_FLAGS = [
  0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
];

/** personality() flags that weaken ASLR or make data executable. */
const UNSAFE_PERSONALITY_FLAGS = [
  0x0040000 /* ADDR_NO_RANDOMIZE */, 0x0400000 /* READ_IMPLIES_EXEC */,
];

/**
 * Builds a seccomp profile. Pure.
 *
 * @param level `default` or `strict`.
 */
export function buildSeccompProfile(level: SeccompLevel): OciSeccomp {
  const denied =
    level === 'strict'
      ? [...DEFAULT_DENIED_SYSCALLS, ...STRICT_EXTRA_DENIED_SYSCALLS]
      : [...DEFAULT_DENIED_SYSCALLS];
  const rules: OciSeccompRule[] = [
    // SECURITY: the deny list; EPERM so programs see a normal "not permitted" failure.
    { names: denied, action: 'SCMP_ACT_ERRNO', errnoRet: SECCOMP_DENY_ERRNO },
    // SECURITY: clone() with a namespace flag is unshare() by another name; deny each flag (a rule's
    // argument checks are ANDed, so one rule per flag makes an OR).
    ...CLONE_NAMESPACE_FLAGS.map((flag): OciSeccompRule => ({
      names: ['clone'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: SECCOMP_DENY_ERRNO,
      args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
    })),
    // SECURITY: clone3 passes its flags in memory where seccomp cannot look; ENOSYS (38) makes libc
    // fall back to clone(), which the rules above check.
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
  ];
  if (level === 'default') {
    // SECURITY: personality changes that disable ASLR or make data executable are denied; plain
    // personality queries (used by some libcs and by `setarch`-free programs) stay allowed.
    for (const flag of UNSAFE_PERSONALITY_FLAGS) {
      rules.push({
        names: ['personality'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: SECCOMP_DENY_ERRNO,
        args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
      });
    }
  }
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
    syscalls: rules,
  };
}
