/**
 * Helpers shared by the runtime integration tests: a per-run state dir, the runtimes usable here, and
 * the exact-cleanup check (no mount, cgroup, process or runtime entry of an environment remains).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OciRuntimeName } from '../src/node/oci/oci-cli.js';
import { CGROUP_PARENT, cgroupRoots, type OciDriver } from '../src/node/oci/oci-driver.js';
import { applyCrunCgroupRemedy, probeRuntime, type RuntimeProbe } from '../src/node/probe.js';

/** A fresh state dir on /run (RAM) named with the virtos- prefix and a random id. */
export function testStateDir(): string {
  return `/run/virtos-test-${randomBytes(5).toString('hex')}`;
}

/** True when running as root (integration tests need it). */
export const isRoot = process.getuid?.() === 0;

/**
 * Probes every runtime; applies the crun hybrid-cgroup remedy first so crun is tested (HOST-NOTES).
 */
export async function usableRuntimes(): Promise<Record<OciRuntimeName, RuntimeProbe>> {
  if (isRoot) await applyCrunCgroupRemedy().catch(() => []);
  return {
    crun: await probeRuntime('crun'),
    runc: await probeRuntime('runc'),
    runsc: await probeRuntime('runsc'),
  };
}

/** Lists what remains of an environment on the host; empty when cleanup was exact. */
export async function leftoversOf(driver: OciDriver, id: string): Promise<string[]> {
  const name = driver.containerName(id);
  const found: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(name)) found.push(`mount: ${line}`);
  }
  for (const root of cgroupRoots()) {
    const dir = join(root, CGROUP_PARENT, name);
    if (existsSync(dir)) found.push(`cgroup: ${dir}`);
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(name)) found.push(`process: ${pid}`);
    } catch {
      // gone meanwhile
    }
  }
  const listed = await driver.cli.list(AbortSignal.timeout(10_000));
  if (listed.includes(name)) found.push(`runtime list: ${name}`);
  for (const sub of ['bundles', 'vnc']) {
    if (existsSync(join(driver.stateDir, sub, name))) found.push(`dir: ${sub}/${name}`);
  }
  if (driver.usernsDir !== undefined && existsSync(join(driver.usernsDir, name))) {
    found.push(`dir: ${join(driver.usernsDir, name)}`);
  }
  return found;
}
