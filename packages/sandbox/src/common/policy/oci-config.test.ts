import { describe, expect, it } from 'vitest';
import type { SecuritySpec } from '@virtos/spec';
import {
  buildOciConfig,
  seccompLevelFor,
  SandboxErrors,
  type SandboxPolicyInput,
} from './oci-config.js';
import { DEFAULT_DENIED_SYSCALLS, STRICT_EXTRA_DENIED_SYSCALLS } from './seccomp.js';

const security: SecuritySpec = {
  isolation: 'standard',
  capabilities: [],
  seccompProfile: 'default',
  readOnlyRoot: true,
};
const base: SandboxPolicyInput = {
  security,
  resources: { cpus: 1.5, memoryMiB: 512, diskMiB: 1024, gpus: 0 },
  display: 'desktop',
  rootfsPath: '/var/lib/virtos/rootfs/e1',
  args: ['/bin/sh'],
};

function deniedNames(cfg: ReturnType<typeof buildOciConfig>): Set<string> {
  const names = new Set<string>();
  for (const r of cfg.linux.seccomp?.syscalls ?? []) {
    if (r.action === 'SCMP_ACT_ERRNO' && r.args === undefined) r.names.forEach((n) => names.add(n));
  }
  return names;
}

describe('buildOciConfig', () => {
  it('creates pid, ipc, uts, mount, cgroup and a fresh network namespace', () => {
    const cfg = buildOciConfig(base);
    expect(cfg.linux.namespaces.map((n) => n.type).sort()).toEqual(
      ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts'].sort(),
    );
    expect(cfg.linux.namespaces.find((n) => n.type === 'network')?.path).toBeUndefined();
  });

  it('joins a prepared network namespace when given one', () => {
    const cfg = buildOciConfig({ ...base, netnsPath: '/run/netns/virtos-abc' });
    expect(cfg.linux.namespaces.find((n) => n.type === 'network')).toEqual({
      type: 'network',
      path: '/run/netns/virtos-abc',
    });
  });

  it('drops every capability and sets noNewPrivileges', () => {
    const { process } = buildOciConfig(base);
    for (const set of Object.values(process.capabilities)) expect(set).toEqual([]);
    expect(process.noNewPrivileges).toBe(true);
  });

  it('keeps only granted capabilities, ambient for a non-root user', () => {
    const cfg = buildOciConfig({
      ...base,
      security: { ...security, capabilities: ['CAP_NET_BIND_SERVICE'] },
    });
    expect(cfg.process.capabilities.bounding).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(cfg.process.capabilities.ambient).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(cfg.process.capabilities.inheritable).toEqual([]);
  });

  it('runs as uid/gid 1000 by default with a RAM-backed home', () => {
    const cfg = buildOciConfig(base);
    expect(cfg.process.user).toEqual({ uid: 1000, gid: 1000 });
    const home = cfg.mounts.find((m) => m.destination === '/home/user');
    expect(home?.type).toBe('tmpfs');
    expect(home?.options).toEqual(expect.arrayContaining(['uid=1000', 'gid=1000', 'mode=700']));
    for (const d of ['/tmp', '/run']) {
      expect(cfg.mounts.find((m) => m.destination === d)?.type).toBe('tmpfs');
    }
  });

  it('makes the root read-only when the spec asks', () => {
    expect(buildOciConfig(base).root).toEqual({ path: base.rootfsPath, readonly: true });
    const rw = buildOciConfig({ ...base, security: { ...security, readOnlyRoot: false } });
    expect(rw.root.readonly).toBe(false);
  });

  it('sets memory (no swap), cpu and pids limits', () => {
    const r = buildOciConfig(base).linux.resources;
    expect(r.memory).toEqual({ limit: 512 * 1024 * 1024, swap: 512 * 1024 * 1024 });
    expect(r.cpu).toEqual({ quota: 150_000, period: 100_000 });
    expect(r.pids?.limit).toBe(2048);
    expect(buildOciConfig({ ...base, display: 'none' }).linux.resources.pids?.limit).toBe(256);
    expect(buildOciConfig({ ...base, pidsLimit: 64 }).linux.resources.pids?.limit).toBe(64);
  });

  it('denies all devices first', () => {
    const d = buildOciConfig(base).linux.resources.devices;
    expect(d[0]).toEqual({ allow: false, access: 'rwm' });
    expect(d.slice(1).every((x) => x.type === 'c')).toBe(true);
  });

  it('masks and write-protects kernel interfaces', () => {
    const { linux } = buildOciConfig(base);
    expect(linux.maskedPaths).toEqual(
      expect.arrayContaining(['/proc/kcore', '/proc/keys', '/sys/firmware']),
    );
    expect(linux.readonlyPaths).toEqual(
      expect.arrayContaining(['/proc/sysrq-trigger', '/proc/sys']),
    );
  });

  it('binds the VNC directory read-write at /run/vnc without exec or devices', () => {
    const cfg = buildOciConfig({ ...base, vncDir: '/run/virtos/vnc/e1' });
    const m = cfg.mounts.find((x) => x.destination === '/run/vnc');
    expect(m).toMatchObject({ type: 'bind', source: '/run/virtos/vnc/e1' });
    expect(m?.options).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev', 'noexec']));
    // The bind comes after /run so it is not hidden by the /run tmpfs.
    const idx = (d: string) => cfg.mounts.findIndex((x) => x.destination === d);
    expect(idx('/run/vnc')).toBeGreaterThan(idx('/run'));
  });

  it('makes extra binds read-only unless asked', () => {
    const cfg = buildOciConfig({
      ...base,
      mounts: [
        { source: '/opt/a', destination: '/a' },
        { source: '/opt/b', destination: '/b', readOnly: false },
      ],
    });
    expect(cfg.mounts.find((m) => m.destination === '/a')?.options).toContain('ro');
    expect(cfg.mounts.find((m) => m.destination === '/b')?.options).toContain('rw');
  });

  it('maps a user namespace when asked', () => {
    const cfg = buildOciConfig({ ...base, userNamespace: { hostId: 100000, size: 65536 } });
    expect(cfg.linux.namespaces.some((n) => n.type === 'user')).toBe(true);
    expect(cfg.linux.uidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
    expect(buildOciConfig(base).linux.uidMappings).toBeUndefined();
  });

  it('denies the dangerous syscalls with EPERM in the default profile', () => {
    const cfg = buildOciConfig(base);
    const denied = deniedNames(cfg);
    for (const name of [
      'mount',
      'umount2',
      'unshare',
      'setns',
      'bpf',
      'ptrace',
      'keyctl',
      'add_key',
      'request_key',
      'kexec_load',
      'init_module',
      'finit_module',
      'delete_module',
      'perf_event_open',
      'userfaultfd',
      'pivot_root',
      'swapon',
      'swapoff',
      'reboot',
    ]) {
      expect(denied, name).toContain(name);
    }
    expect(cfg.linux.seccomp?.defaultAction).toBe('SCMP_ACT_ALLOW');
    const main = cfg.linux.seccomp?.syscalls[0];
    expect(main?.errnoRet).toBe(1);
    expect(denied.has('io_uring_setup')).toBe(false);
  });

  it('denies clone with namespace flags and personality changes that weaken ASLR', () => {
    const rules = buildOciConfig(base).linux.seccomp?.syscalls ?? [];
    const cloneFlags = rules
      .filter((r) => r.names.includes('clone'))
      .map((r) => r.args?.[0]?.value);
    expect(cloneFlags).toContain(0x10000000); // CLONE_NEWUSER
    expect(cloneFlags).toContain(0x40000000); // CLONE_NEWNET
    expect(
      rules.some((r) => r.names.includes('personality') && r.args?.[0]?.value === 0x40000),
    ).toBe(true);
  });

  it('uses the strict profile for hardened and maximum isolation', () => {
    for (const isolation of ['hardened', 'maximum'] as const) {
      const denied = deniedNames(buildOciConfig({ ...base, security: { ...security, isolation } }));
      for (const n of [...DEFAULT_DENIED_SYSCALLS, ...STRICT_EXTRA_DENIED_SYSCALLS]) {
        expect(denied, n).toContain(n);
      }
    }
    expect(seccompLevelFor({ ...security, seccompProfile: 'strict' })).toBe('strict');
    expect(seccompLevelFor({ ...security, seccompProfile: 'unconfined-vm' })).toBe('default');
  });

  it('rejects relative or escaping paths and empty args', () => {
    expect(() => buildOciConfig({ ...base, rootfsPath: 'rootfs' })).toThrow(/absolute/);
    expect(() =>
      buildOciConfig({ ...base, mounts: [{ source: '/a/../etc', destination: '/x' }] }),
    ).toThrow(/absolute/);
    try {
      buildOciConfig({ ...base, args: [] });
      expect.unreachable();
    } catch (e) {
      expect(SandboxErrors.is(e, 'invalid_policy')).toBe(true);
    }
  });

  it('is pure: the same input gives the same config', () => {
    expect(JSON.stringify(buildOciConfig(base))).toBe(JSON.stringify(buildOciConfig(base)));
  });
});
