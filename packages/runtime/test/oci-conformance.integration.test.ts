/**
 * The shared conformance suite against every OCI runtime on this host (crun, runc, runsc), with a
 * busybox root filesystem. A runtime is skipped only when the probe finds it absent or unusable, and
 * the reason is printed in the test name.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeDriverConformance } from '../src/node/conformance.js';
import { createMiniRootfs, type MiniRootfs } from '../src/node/oci/mini-rootfs.js';
import { OciDriver } from '../src/node/oci/oci-driver.js';
import { OCI_RUNTIMES } from '../src/node/oci/oci-cli.js';
import type { CreateRequest } from '../src/common/driver.js';
import { isRoot, leftoversOf, testStateDir, usableRuntimes } from './helpers.js';

const probes = isRoot ? await usableRuntimes() : undefined;

for (const runtime of OCI_RUNTIMES) {
  const probe = probes?.[runtime];
  if (!probe || probe.status !== 'ok' || !probe.binary) {
    const reason = probe ? probe.reason : 'not running as root';
    describe(`RuntimeDriver conformance: oci.${runtime}/v1`, () => {
      it.skip(`skipped: ${reason}`, () => undefined);
    });
    continue;
  }
  const binary = probe.binary;
  const stateDir = testStateDir();
  let rootfs: MiniRootfs | undefined;
  let driver: OciDriver;
  describeDriverConformance(
    { describe, it, beforeAll, afterAll },
    {
      name: `oci.${runtime}/v1`,
      makeDriver: async () => {
        rootfs = await createMiniRootfs();
        driver = new OciDriver({ runtime, binary, stateDir });
        return driver;
      },
      makeRequest: (id, script) => ({
        id,
        spec: {
          display: 'none',
          security: {
            isolation: 'standard',
            capabilities: [],
            seccompProfile: 'default',
            readOnlyRoot: true,
          },
          resources: { cpus: 1, memoryMiB: 128, diskMiB: 256, gpus: 0 },
        },
        rootfs: (rootfs as MiniRootfs).path,
        process: { args: ['/bin/sh', '-c', script] },
      }),
      assertGone: async (id) => {
        const left = await leftoversOf(driver, id);
        if (left.length) throw new Error(`leftovers of ${id}:\n${left.join('\n')}`);
      },
      cleanup: async () => {
        await rootfs?.dispose();
        await rm(stateDir, { recursive: true, force: true });
      },
    },
  );
}

/**
 * The observed state of a container whose processes ended outside the driver's sight: it must read
 * as stopped, never running, also to a fresh driver (a new daemon) that finds a leftover cgroup.
 */
for (const runtime of ['crun', 'runc'] as const) {
  const probe = probes?.[runtime];
  if (!probe || probe.status !== 'ok' || !probe.binary) {
    describe(`oci.${runtime}/v1 observed state of ended containers`, () => {
      it.skip(`skipped: ${probe ? probe.reason : 'not running as root'}`, () => undefined);
    });
    continue;
  }
  const binary = probe.binary;
  describe(`oci.${runtime}/v1 observed state of ended containers`, () => {
    const stateDir = testStateDir();
    let rootfs: MiniRootfs;
    let driver: OciDriver;
    const ctx = () => ({ signal: AbortSignal.timeout(60_000) });
    const request = (id: string, script: string): CreateRequest => ({
      id,
      spec: {
        display: 'none',
        security: {
          isolation: 'standard',
          capabilities: [],
          seccompProfile: 'default',
          readOnlyRoot: true,
        },
        resources: { cpus: 1, memoryMiB: 128, diskMiB: 256, gpus: 0 },
      },
      rootfs: rootfs.path,
      process: { args: ['/bin/sh', '-c', script] },
    });
    const newId = () => `ct-${randomBytes(5).toString('hex')}`;
    const bundleFile = (id: string, f: string) =>
      join(stateDir, 'bundles', driver.containerName(id), f);
    const fresh = () => new OciDriver({ runtime, binary, stateDir });
    /** Kills the shim's whole process group (the shell, the runtime, the container) with SIGKILL. */
    const killShimAndContainer = async (id: string): Promise<void> => {
      const meta = JSON.parse(await readFile(bundleFile(id, 'virtos.json'), 'utf8')) as {
        shim?: { pid: number };
      };
      const shim = meta.shim?.pid;
      assert.ok(shim, 'the shim pid is recorded');
      const pid = Number((await readFile(bundleFile(id, 'pid'), 'utf8')).trim());
      process.kill(-shim, 'SIGKILL');
      process.kill(pid, 'SIGKILL');
      // Until the kernel has reaped it (its parent, the runtime, is gone too).
      for (let i = 0; i < 400 && existsSync(`/proc/${pid}`); i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
    };

    beforeAll(async () => {
      rootfs = await createMiniRootfs();
      driver = fresh();
    });
    afterAll(async () => {
      await rootfs.dispose();
      await rm(stateDir, { recursive: true, force: true });
    });

    it('a first process that exits at once reads stopped, also without an exit record', async () => {
      const id = newId();
      await driver.create(ctx(), request(id, 'exit 3'));
      // It may end before or after start reads its pid file; either way it ends with its code.
      await driver.start(ctx(), id).catch(() => undefined);
      assert.deepEqual(await driver.wait(ctx(), id), { exitCode: 3 });
      assert.deepEqual(await driver.status(ctx(), id), { id, state: 'stopped', exitCode: 3 });
      // As if the shim had been killed before writing its record: a new daemon's driver finds a
      // pid file whose process is gone and no runtime state, and must not read that as running.
      await rm(bundleFile(id, 'exit'));
      assert.deepEqual(await fresh().status(ctx(), id), { id, state: 'stopped', exitCode: 137 });
      await driver.delete(ctx(), id);
      assert.deepEqual(await leftoversOf(driver, id), []);
    });

    it('a fresh driver reads stopped (137) once the shim and the container were killed', async () => {
      const id = newId();
      await driver.create(ctx(), request(id, 'sleep 1000'));
      assert.equal((await driver.start(ctx(), id)).state, 'running');
      await killShimAndContainer(id);
      const adopted = fresh();
      assert.deepEqual(await adopted.status(ctx(), id), { id, state: 'stopped', exitCode: 137 });
      assert.equal((await driver.status(ctx(), id)).state, 'stopped');
      await adopted.delete(ctx(), id);
      assert.deepEqual(await leftoversOf(adopted, id), []);
    });

    it('the first process identity is kept, so a reused pid does not revive the environment', async () => {
      const id = newId();
      await driver.create(ctx(), request(id, 'sleep 1000'));
      await driver.start(ctx(), id);
      const meta = JSON.parse(await readFile(bundleFile(id, 'virtos.json'), 'utf8')) as {
        proc?: { pid: number; start: string };
      };
      const pid = Number((await readFile(bundleFile(id, 'pid'), 'utf8')).trim());
      assert.equal(meta.proc?.pid, pid);
      await killShimAndContainer(id);
      // Another live process now stands behind the pid file (as a reused pid would).
      await writeFile(bundleFile(id, 'pid'), `${process.pid}\n`);
      assert.equal((await fresh().status(ctx(), id)).state, 'stopped');
      await writeFile(bundleFile(id, 'pid'), `${pid}\n`);
      await driver.delete(ctx(), id);
      assert.deepEqual(await leftoversOf(driver, id), []);
    });
  });
}
