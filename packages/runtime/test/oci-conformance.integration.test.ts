/**
 * The shared conformance suite against every OCI runtime on this host (crun, runc, runsc), with a
 * busybox root filesystem. A runtime is skipped only when the probe finds it absent or unusable, and
 * the reason is printed in the test name.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeDriverConformance } from '../src/node/conformance.js';
import { createMiniRootfs, type MiniRootfs } from '../src/node/oci/mini-rootfs.js';
import { OciDriver } from '../src/node/oci/oci-driver.js';
import { OCI_RUNTIMES } from '../src/node/oci/oci-cli.js';
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
