/**
 * The security suite: inside real sandboxes under every usable runtime, forbidden operations fail,
 * host files are out of reach, a fork bomb stops at pids.max and a memory hog is OOM-killed inside its
 * cgroup while the host stays responsive. Probes run as uid 0 inside the sandbox (the worst case:
 * root without capabilities) unless a test says otherwise.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IsolationLevel } from '@virtos/spec';
import { createMiniRootfs, type MiniRootfs } from '../src/node/oci/mini-rootfs.js';
import { CGROUP_PARENT, OciDriver, cgroupRoots } from '../src/node/oci/oci-driver.js';
import { OCI_RUNTIMES } from '../src/node/oci/oci-cli.js';
import { USERNS_BASE_ID, USERNS_SIZE } from '../src/node/oci/userns.js';
import { isRoot, leftoversOf, testStateDir, usableRuntimes } from './helpers.js';

const probes = isRoot ? await usableRuntimes() : undefined;
const ctx = () => ({ signal: AbortSignal.timeout(60_000) });

/** Syscalls the default seccomp profile denies (EPERM under crun/runc). */
const SECCOMP_DENIED = [
  'mount',
  'unshare',
  'unshare_net',
  'clone_newuser',
  'setns',
  'ptrace',
  'bpf',
  'keyctl',
  'userfaultfd',
  'perf_event_open',
  'kexec_load',
  'init_module',
  'finit_module',
  'delete_module',
  'reboot',
  'swapon',
  'pivot_root',
  'personality',
];

for (const runtime of OCI_RUNTIMES) {
  const probe = probes?.[runtime];
  if (!probe || probe.status !== 'ok' || !probe.binary) {
    describe(`security suite: ${runtime}`, () => {
      it.skip(`skipped: ${probe ? probe.reason : 'not running as root'}`, () => undefined);
    });
    continue;
  }
  const binary = probe.binary;

  describe(`security suite: ${runtime}`, () => {
    const stateDir = testStateDir();
    let rootfs: MiniRootfs;
    let driver: OciDriver;
    let helperDir: string;
    const canary = `/tmp/virtos-canary-${randomBytes(6).toString('hex')}`;
    const ids: string[] = [];

    beforeAll(async () => {
      rootfs = await createMiniRootfs();
      helperDir = await mkdtemp(join(tmpdir(), 'virtos-vprobe-'));
      execFileSync('gcc', [
        '-static',
        '-O2',
        '-o',
        join(helperDir, 'vprobe'),
        join(import.meta.dirname, 'fixtures/vprobe.c'),
      ]);
      await copyFile(join(helperDir, 'vprobe'), join(rootfs.path, 'bin/vprobe'));
      await writeFile(canary, 'host secret\n');
      driver = new OciDriver({ runtime, binary, stateDir });
    });

    afterAll(async () => {
      for (const id of ids) await driver.delete(ctx(), id).catch(() => undefined);
      await rootfs?.dispose();
      await rm(helperDir, { recursive: true, force: true });
      await rm(canary, { force: true });
      await rm(stateDir, { recursive: true, force: true });
    });

    /** Runs `script` in a fresh sandbox; returns exit code and output. */
    async function runIn(
      script: string,
      opts: {
        uid?: number;
        isolation?: IsolationLevel;
        memoryMiB?: number;
        pidsLimit?: number;
      } = {},
    ): Promise<{ exitCode: number; output: string; id: string }> {
      const id = `sec-${randomBytes(5).toString('hex')}`;
      ids.push(id);
      const uid = opts.uid ?? 0;
      await driver.create(ctx(), {
        id,
        spec: {
          display: 'none',
          security: {
            isolation: opts.isolation ?? 'standard',
            capabilities: [],
            seccompProfile: 'default',
            readOnlyRoot: true,
          },
          resources: { cpus: 1, memoryMiB: opts.memoryMiB ?? 128, diskMiB: 256, gpus: 0 },
        },
        rootfs: rootfs.path,
        process: {
          // Output goes to the sandbox's tmpfs; the test reads it with exec.
          args: [
            '/bin/sh',
            '-c',
            `(${script}) >/tmp/out 2>&1; echo "rc=$?" >>/tmp/out; exec sleep 1000`,
          ],
          user: { uid, gid: uid },
        },
        ...(opts.pidsLimit !== undefined && { pidsLimit: opts.pidsLimit }),
      });
      await driver.start(ctx(), id);
      // Wait for the script to finish: its output file ends with rc=.
      for (;;) {
        const r = await driver.exec(ctx(), id, {
          args: ['/bin/sh', '-c', 'cat /tmp/out 2>/dev/null'],
          user: { uid: 0, gid: 0 },
        });
        const m = /rc=(\d+)\n$/.exec(r.stdout);
        if (m) {
          await driver.delete(ctx(), id);
          return { exitCode: Number(m[1]), output: r.stdout, id };
        }
        const st = await driver.status(ctx(), id);
        if (st.state === 'stopped') throw new Error(`sandbox exited ${st.exitCode}`);
      }
    }

    it('denies forbidden system calls (seccomp + no capabilities)', async () => {
      const { output } = await runIn(`vprobe ${SECCOMP_DENIED.join(' ')} rawsock packet`);
      const results = Object.fromEntries(
        output
          .split('\n')
          .map((l) => l.split(' '))
          .filter((p) => p.length === 2),
      ) as Record<string, string>;
      for (const name of [...SECCOMP_DENIED, 'rawsock', 'packet']) {
        const r = results[name];
        expect(r, `${name} must fail`).toBeDefined();
        expect(r, `${name} must fail`).not.toBe('OK');
        // gVisor answers some calls it does not implement with ENOSYS; both mean "not done".
        expect(['EPERM', 'EACCES', 'ENOSYS'], `${name}: ${r}`).toContain(r);
        if (runtime !== 'runsc' && SECCOMP_DENIED.includes(name)) expect(r, name).toBe('EPERM');
      }
    });

    it('the strict profile (hardened isolation) also denies io_uring', async () => {
      const std = await runIn('vprobe io_uring_setup');
      const hard = await runIn('vprobe io_uring_setup', { isolation: 'hardened' });
      expect(hard.output).toMatch(/io_uring_setup (EPERM|ENOSYS)/);
      expect(std.output).not.toMatch(/io_uring_setup EPERM/);
    });

    it('busybox mount and unshare fail, also as the unprivileged user', async () => {
      for (const uid of [0, 1000]) {
        const r = await runIn(
          'mount -t tmpfs none /mnt || echo MOUNT-FAILED; unshare -U true || echo UNSHARE-FAILED',
          { uid },
        );
        expect(r.output).toContain('MOUNT-FAILED');
        expect(r.output).toContain('UNSHARE-FAILED');
      }
    });

    it('writing /proc/sysrq-trigger fails and /proc/kcore is masked', async () => {
      const r = await runIn(
        'echo h >/proc/sysrq-trigger && echo SYSRQ-WRITTEN; wc -c </proc/kcore 2>&1; ls /sys/firmware | wc -l',
      );
      expect(r.output).not.toContain('SYSRQ-WRITTEN');
      // Where the kernel has no sysrq or kcore (this host), the write fails with ENOENT.
      expect(r.output).toMatch(
        /(Read-only file system|Permission denied|No such file|nonexistent)/i,
      );
      expect(r.output).toMatch(/^0$/m);
    });

    it('host files are out of reach', async () => {
      const r = await runIn(
        `cat ${canary} || echo NO-CANARY; cat /proc/1/root${canary} || echo NO-CANARY-PROC; ls /home`,
      );
      expect(r.output).not.toContain('host secret');
      expect(r.output).toContain('NO-CANARY');
      expect(r.output).toContain('NO-CANARY-PROC');
    });

    it('root inside is an unused host id, with a range of its own per environment (runsc: none, with its reason)', async () => {
      if (driver.usernsOffReason !== undefined) {
        // gVisor: its own kernel; the driver says why and emits no user namespace.
        expect(runtime).toBe('runsc');
        expect(driver.usernsOffReason).toMatch(/own kernel/);
        const r = await runIn('cat /proc/self/uid_map');
        expect(r.output).not.toMatch(/^\s*0\s+1073741824/m);
        return;
      }
      const started: { id: string; pid: number }[] = [];
      for (let i = 0; i < 2; i++) {
        const id = `uns-${randomBytes(5).toString('hex')}`;
        ids.push(id);
        await driver.create(ctx(), {
          id,
          spec: {
            display: 'none',
            security: {
              isolation: 'standard',
              capabilities: [],
              seccompProfile: 'default',
              readOnlyRoot: true,
            },
            resources: { cpus: 1, memoryMiB: 64, diskMiB: 64, gpus: 0 },
          },
          rootfs: rootfs.path,
          process: { args: ['/bin/sleep', '1000'], user: { uid: 0, gid: 0 } },
        });
        let st = await driver.start(ctx(), id);
        // The pid is known once the runtime wrote its pid file (start returns when it did).
        for (let i = 0; i < 100 && st.pid === undefined; i++) {
          await new Promise((r) => setTimeout(r, 20));
          st = await driver.status(ctx(), id);
        }
        expect(st).toMatchObject({ state: 'running', pid: expect.any(Number) });
        started.push({ id, pid: st.pid ?? 0 });
      }
      const hostIds: number[] = [];
      for (const { id, pid } of started) {
        // The kernel's view from the host: the sandbox's root process runs as the range's first id.
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
        const gid = Number(/^Gid:\s+(\d+)/m.exec(status)?.[1]);
        expect(uid).toBeGreaterThanOrEqual(USERNS_BASE_ID);
        expect(gid).toBe(uid);
        hostIds.push(uid);
        // And from inside: uid 0 maps to that id, 65536 ids, nothing else.
        const inside = await driver.exec(ctx(), id, {
          args: ['/bin/sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u'],
          user: { uid: 0, gid: 0 },
        });
        const lines = inside.stdout.trim().split('\n');
        expect(lines.map((l) => l.trim().split(/\s+/).join(' '))).toEqual([
          `0 ${uid} ${USERNS_SIZE}`,
          `0 ${uid} ${USERNS_SIZE}`,
          '0',
        ]);
        // Host-root-owned files are "nobody" inside: root of the sandbox owns nothing of the host.
        const owner = await driver.exec(ctx(), id, {
          args: ['/bin/sh', '-c', 'stat -c %u /bin/busybox; echo x > /proc/sys/kernel/hostname'],
          user: { uid: 0, gid: 0 },
        });
        expect(owner.stdout.trim()).toBe('65534');
        expect(owner.exitCode).not.toBe(0);
      }
      expect(new Set(hostIds).size).toBe(2);
      for (const { id } of started) {
        await driver.delete(ctx(), id);
        expect(await leftoversOf(driver, id)).toEqual([]);
      }
    });

    it('the root filesystem is read-only and /tmp is writable', async () => {
      const r = await runIn('touch /bin/x && echo ROOT-WRITTEN; touch /tmp/x && echo TMP-OK');
      expect(r.output).not.toContain('ROOT-WRITTEN');
      expect(r.output).toContain('TMP-OK');
    });

    it('a fork bomb stops at the pids limit and the host stays fine', async () => {
      const limit = 48;
      const id = `bomb-${randomBytes(5).toString('hex')}`;
      ids.push(id);
      await driver.create(ctx(), {
        id,
        spec: {
          display: 'none',
          security: {
            isolation: 'standard',
            capabilities: [],
            seccompProfile: 'default',
            readOnlyRoot: true,
          },
          resources: { cpus: 0.5, memoryMiB: 128, diskMiB: 256, gpus: 0 },
        },
        rootfs: rootfs.path,
        process: {
          args: ['/bin/sh', '-c', 'b() { b | b & }; b; exec sleep 1000'],
          user: { uid: 1000, gid: 1000 },
        },
        pidsLimit: limit,
      });
      await driver.start(ctx(), id);
      const pidsDir = cgroupRoots()
        .map((r) => join(r, CGROUP_PARENT, driver.containerName(id)))
        .find((d) => existsSync(join(d, 'pids.max')));
      if (runtime !== 'runsc') {
        expect(pidsDir, 'pids cgroup of the sandbox').toBeDefined();
        const dir = pidsDir as string;
        expect(readFileSync(join(dir, 'pids.max'), 'utf8').trim()).toBe(String(limit));
        const t0 = Date.now();
        let current = 0;
        while (Date.now() - t0 < 20_000) {
          current = Number(readFileSync(join(dir, 'pids.current'), 'utf8'));
          expect(current).toBeLessThanOrEqual(limit);
          if (current >= limit - 2) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(current).toBeGreaterThanOrEqual(limit - 2);
        const events = join(dir, 'pids.events');
        if (existsSync(events)) expect(readFileSync(events, 'utf8')).toMatch(/max [1-9]/);
      }
      // The host is responsive: a process starts and finishes quickly.
      const t = performance.now();
      execFileSync('/bin/true');
      expect(performance.now() - t).toBeLessThan(2000);
      await driver.delete(ctx(), id);
      expect(await leftoversOf(driver, id)).toEqual([]);
    });

    it('a memory hog is OOM-killed inside its cgroup (exit 137) and the host stays fine', async () => {
      const id = `hog-${randomBytes(5).toString('hex')}`;
      ids.push(id);
      await driver.create(ctx(), {
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
        process: { args: ['/bin/vprobe', 'hog'], user: { uid: 1000, gid: 1000 } },
      });
      await driver.start(ctx(), id);
      const { exitCode } = await driver.wait(ctx(), id);
      if (runtime === 'runsc') {
        // gVisor's sentry holds the memory: the kernel kills the whole sandbox, or the sentry's own
        // allocator refuses; either way the hog does not survive and the host is unaffected.
        expect(exitCode).not.toBe(0);
      } else {
        expect(exitCode).toBe(137);
      }
      const free = Number(/MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
      expect(free / 1024).toBeGreaterThan(512);
      await driver.delete(ctx(), id);
      expect(await leftoversOf(driver, id)).toEqual([]);
    });
  });
}
