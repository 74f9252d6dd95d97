/**
 * `npm run bench:runtime`: prints runtime figures for this host (see docs/runtime.md for targets).
 * Uses the preferred runtime (crun, else runc), a busybox root for headless runs and the images
 * package's desktop layers (cache VIRTOS_TEST_IMAGE_CACHE, default /var/cache/virtos-test/images).
 * VIRTOS_BENCH_COLD=1 also times a cold image build into a fresh cache (slow, ~1-2 min).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvironmentSpec, SecuritySpec } from '@virtos/spec';
import { createImageStore, mountRootfs, type MountedRootfs } from '@virtos/images';
import { createNetworkManager } from '@virtos/sandbox';
import {
  CGROUP_PARENT,
  OciDriver,
  RfbSession,
  cgroupRoots,
  countColours,
  createMiniRootfs,
  createProvisioner,
  probeRuntime,
  type CreateRequest,
} from '../src/index.js';

const CACHE = process.env['VIRTOS_TEST_IMAGE_CACHE'] ?? '/var/cache/virtos-test/images';
const ctx = () => ({ signal: AbortSignal.timeout(120_000) });
const p50 = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const ms = (x: number): string => `${x.toFixed(1)} ms`;
const security: SecuritySpec = {
  isolation: 'standard',
  capabilities: [],
  seccompProfile: 'default',
  readOnlyRoot: true,
};

/** A complete spec as the composer would write it (the runtime does not import the composer). */
function benchSpec(name: string, display: EnvironmentSpec['display']): EnvironmentSpec {
  return {
    version: 1,
    name,
    base: { distro: 'debian', release: 'bookworm' },
    runtime: 'container',
    display,
    apps: [],
    network: { mode: 'none', allow: [], peers: [] },
    resources: { cpus: 1, memoryMiB: 512, diskMiB: 256, gpus: 0 },
    persistence: 'ephemeral',
    security,
    lifetime: { ttlMinutes: null, idleSuspendMinutes: null },
    priority: 'normal',
  } as EnvironmentSpec;
}

async function main(): Promise<void> {
  let runtime: 'crun' | 'runc' = 'crun';
  let probe = await probeRuntime('crun');
  if (probe.status !== 'ok') {
    console.log(`crun unusable (${probe.reason}); using runc`);
    runtime = 'runc';
    probe = await probeRuntime('runc');
  }
  if (probe.status !== 'ok' || !probe.binary) throw new Error(`no runtime: ${probe.reason}`);
  const stateDir = `/run/virtos-bench-${randomBytes(4).toString('hex')}`;
  const driver = new OciDriver({ runtime, binary: probe.binary, stateDir });
  const mini = await createMiniRootfs();
  const mounts: MountedRootfs[] = [];
  const ids: string[] = [];
  console.log(`runtime: ${runtime} (${probe.version})`);
  try {
    // Images.
    const store = createImageStore({ cacheDir: CACHE });
    let t = performance.now();
    const desktopImage = await store.ensure({
      distro: 'debian',
      release: 'bookworm',
      display: 'desktop',
      packages: [],
    });
    console.log(`image ensure, all layers cached: ${ms(performance.now() - t)}`);
    if (process.env['VIRTOS_BENCH_COLD'] === '1') {
      const cold = await mkdtemp('/var/tmp/virtos-bench-cache-');
      try {
        t = performance.now();
        await createImageStore({ cacheDir: cold }).ensure({
          distro: 'debian',
          release: 'bookworm',
          display: 'none',
          packages: [],
        });
        console.log(
          `image build cold (base layer): ${((performance.now() - t) / 1000).toFixed(1)} s`,
        );
      } finally {
        await rm(cold, { recursive: true, force: true });
      }
      t = performance.now();
      await store.ensure({
        distro: 'debian',
        release: 'bookworm',
        display: 'none',
        packages: ['jq'],
      });
      console.log(
        `image build with cached base (+ apps layer jq): ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
    } else {
      console.log(
        'image build cold / with cached base: not run (set VIRTOS_BENCH_COLD=1; ~1-2 min)',
      );
    }

    // Headless start: create + start of /bin/true until exit.
    const headless: number[] = [];
    for (let i = 0; i < 20; i++) {
      const id = `bh-${randomBytes(4).toString('hex')}`;
      const req: CreateRequest = {
        id,
        spec: {
          display: 'none',
          security,
          resources: { cpus: 1, memoryMiB: 64, diskMiB: 256, gpus: 0 },
        },
        rootfs: mini.path,
        process: { args: ['/bin/true'] },
      };
      const t0 = performance.now();
      await driver.create(ctx(), req);
      await driver.start(ctx(), id);
      headless.push(performance.now() - t0);
      await driver.wait(ctx(), id);
      await driver.delete(ctx(), id);
    }
    console.log(
      `headless start p50 (create+start, 20 runs): ${ms(p50(headless))}  [target <= 50 ms]`,
    );

    // Pause/resume.
    const pid = `bp-${randomBytes(4).toString('hex')}`;
    ids.push(pid);
    await driver.create(ctx(), {
      id: pid,
      spec: {
        display: 'none',
        security,
        resources: { cpus: 1, memoryMiB: 64, diskMiB: 256, gpus: 0 },
      },
      rootfs: mini.path,
      process: { args: ['/bin/sh', '-c', 'exec sleep 1000'] },
    });
    await driver.start(ctx(), pid);
    const pauses: number[] = [];
    const resumes: number[] = [];
    for (let i = 0; i < 20; i++) {
      let t0 = performance.now();
      await driver.pause(ctx(), pid);
      pauses.push(performance.now() - t0);
      t0 = performance.now();
      await driver.resume(ctx(), pid);
      resumes.push(performance.now() - t0);
    }
    await driver.delete(ctx(), pid);
    console.log(
      `pause p50: ${ms(p50(pauses))}, resume p50: ${ms(p50(resumes))}  [target <= 10 ms]`,
    );

    // Desktops: start to VNC-ready and to xterm painted, with a warm (pre-mounted) layer.
    const vncReady: number[] = [];
    const painted: number[] = [];
    const live: string[] = [];
    const N = 10;
    for (let i = 0; i < N; i++) {
      const m = await mountRootfs(desktopImage, {
        target: join(stateDir, 'rootfs', `virtos-${randomBytes(4).toString('hex')}`),
        writableMiB: 256,
      });
      mounts.push(m);
      const id = `bd-${randomBytes(4).toString('hex')}`;
      ids.push(id);
      live.push(id);
      const t0 = performance.now();
      await driver.create(ctx(), {
        id,
        spec: {
          display: 'desktop',
          security,
          resources: { cpus: 1, memoryMiB: 512, diskMiB: 256, gpus: 0 },
        },
        rootfs: m.path,
        apps: [{ args: ['xterm', '-geometry', '80x24+20+20'] }],
      });
      await driver.start(ctx(), id);
      const ep = await driver.display(ctx(), id, { timeoutMs: 60_000 });
      vncReady.push(performance.now() - t0);
      for (;;) {
        const s = await RfbSession.connect(ep.socketPath, AbortSignal.timeout(10_000));
        const f = await s.readFrame();
        s.close();
        if (countColours(f) > 2) break;
        if (performance.now() - t0 > 30_000) break;
      }
      painted.push(performance.now() - t0);
    }
    console.log(
      `desktop start-to-VNC-ready p50 (${N} runs, warm layer): ${ms(p50(vncReady))}  [target <= 150 ms]  (all: ${vncReady.map((x) => x.toFixed(0)).join(' ')})`,
    );
    console.log(`desktop start-to-xterm-painted p50: ${ms(p50(painted))}  [target <= 400 ms]`);

    // Provision to running (Provisioner: image ensure from cache + overlay mount + create + start,
    // and for a desktop up to display-ready), network none, no warm pool. Teardown is not timed.
    const provisioner = createProvisioner({
      stateDir: join(stateDir, 'provisioner'),
      images: store,
      network: createNetworkManager({ stateDir: join(stateDir, 'net') }),
      drivers: { container: driver },
    });
    for (const display of ['terminal', 'desktop'] as const) {
      const times: number[] = [];
      const runs = display === 'desktop' ? 7 : 11;
      for (let i = 0; i < runs; i++) {
        const id = `bpv-${randomBytes(4).toString('hex')}`;
        const t0 = performance.now();
        try {
          await provisioner.provision(ctx(), { id, spec: benchSpec('bench', display) });
          times.push(performance.now() - t0);
        } finally {
          await provisioner.teardown(ctx(), id);
        }
      }
      console.log(
        `provision-to-${display === 'desktop' ? 'display-ready (desktop)' : 'running (headless terminal)'} p50 (${runs} runs, cached layers, no warm pool): ${ms(p50(times))}`,
      );
    }

    // Resident memory of the idle desktops (memory cgroup: rss + shmem; page cache excluded).
    const memRoot = cgroupRoots().find((r) => r.endsWith('/memory'));
    const per: number[] = [];
    for (const id of live) {
      const stat = readFileSync(
        join(memRoot ?? '', CGROUP_PARENT, driver.containerName(id), 'memory.stat'),
        'utf8',
      );
      const v = (k: string): number =>
        Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0);
      per.push((v('total_rss') + v('total_shmem')) / 2 ** 20);
    }
    const avg = per.reduce((a, b) => a + b, 0) / per.length;
    const avail =
      Number(/MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) / 1024;
    console.log(
      `resident memory per idle desktop (Xvnc+openbox+xterm, ${N} measured): p50 ${p50(per).toFixed(1)} MiB, mean ${avg.toFixed(1)} MiB  [target <= 60 MiB]`,
    );
    console.log(
      `idle desktops that fit in the ${avail.toFixed(0)} MiB still available (extrapolated from ${N}): ~${Math.floor(avail / avg) + N}`,
    );
  } finally {
    for (const id of ids) await driver.delete(ctx(), id).catch(() => undefined);
    for (const m of mounts) await m.dispose().catch(() => undefined);
    await mini.dispose();
    await rm(stateDir, { recursive: true, force: true });
  }
}

await main();
