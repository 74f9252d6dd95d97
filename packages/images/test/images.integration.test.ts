/**
 * Real builds with mmdebstrap and apt, real overlay and tmpfs mounts. Needs root and Debian's mirror.
 * Built layers are kept in a shared cache (VIRTOS_TEST_IMAGE_CACHE, default
 * /var/cache/virtos-test/images) so repeated runs and other packages' tests reuse them; on a fresh
 * machine the first run builds them (~30 s base, ~35 s desktop).
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createImageStore,
  mountRootfs,
  mountsUnder,
  readMounts,
  WarmPool,
  type BuildProgress,
  type ImageStore,
  type MountedRootfs,
} from '../src/index.js';

const CACHE = process.env.VIRTOS_TEST_IMAGE_CACHE ?? '/var/cache/virtos-test/images';
const isRoot = process.getuid?.() === 0;
const BUILD_TIMEOUT = 600_000;

describe.skipIf(!isRoot)('images on a real host (needs root: mount, chroot, mmdebstrap)', () => {
  let store: ImageStore;
  let work: string;
  const mounts: MountedRootfs[] = [];

  beforeAll(async () => {
    store = createImageStore({ cacheDir: CACHE });
    work = await mkdtemp(join(tmpdir(), 'virtos-images-it-'));
  });

  afterAll(async () => {
    for (const m of mounts) await m.dispose().catch(() => undefined);
    // Whatever a failed test left mounted under our work dir goes too, deepest first.
    for (const mp of mountsUnder(await readMounts(), work)) {
      const { nodeExec } = await import('../src/index.js');
      await nodeExec(['umount', '-l', mp]);
    }
    await rm(work, { recursive: true, force: true });
  });

  it(
    'builds (or reuses) the Debian base layer, and a second ensure builds nothing',
    async () => {
      const progress: BuildProgress[] = [];
      const req = { distro: 'debian', release: 'bookworm', display: 'none', packages: [] } as const;
      const first = await store.ensure(req, { onProgress: (p) => progress.push(p) });
      const base = first.layers[0];
      expect(first.layers).toHaveLength(1);
      expect(base?.manifest.kind).toBe('base');
      expect(base?.manifest.packages.some((p) => p.name === 'dpkg')).toBe(true);
      expect(base?.manifest.builder).toMatch(/^mmdebstrap\/\d/);
      if (first.outcomes[0]?.built) {
        expect(progress.some((p) => (p.packagesTotal ?? 0) > 50 && (p.bytes ?? 0) > 1e6)).toBe(
          true,
        );
        console.log(`base layer built in ${first.outcomes[0].buildMs} ms`);
      }
      const passwd = await readFile(join(base?.path ?? '', 'etc/passwd'), 'utf8');
      expect(passwd).toMatch(/^user:x:1000:1000::\/home\/user:/m);
      const home = await stat(join(base?.path ?? '', 'home/user'));
      expect([home.uid, home.gid, home.isDirectory()]).toEqual([1000, 1000, true]);
      const second = await store.ensure(req);
      expect(second.key).toBe(first.key);
      expect(second.outcomes.every((o) => !o.built)).toBe(true);
    },
    BUILD_TIMEOUT,
  );

  it(
    'builds the desktop layer on the base: Xvnc, openbox, xterm, fonts; reused the second time',
    async () => {
      const req = {
        distro: 'debian',
        release: 'bookworm',
        display: 'desktop',
        packages: [],
      } as const;
      const img = await store.ensure(req);
      expect(img.layers.map((l) => l.manifest.kind)).toEqual(['base', 'desktop']);
      const desktop = img.layers[1];
      expect(desktop?.manifest.parent).toBe(img.layers[0]?.id);
      const names = desktop?.manifest.packages.map((p) => p.name) ?? [];
      for (const p of [
        'tigervnc-standalone-server',
        'openbox',
        'xterm',
        'xfonts-base',
        'x11-utils',
      ]) {
        expect(names).toContain(p);
      }
      expect(names).not.toContain('dpkg'); // only what this layer added
      await expect(stat(join(desktop?.path ?? '', 'usr/bin/Xtigervnc'))).resolves.toBeTruthy();
      // Build-time files are not kept in the layer.
      await expect(stat(join(desktop?.path ?? '', 'usr/sbin/policy-rc.d'))).rejects.toThrow();
      await expect(stat(join(desktop?.path ?? '', 'etc/resolv.conf'))).rejects.toThrow();
      if (img.outcomes[1]?.built)
        console.log(`desktop layer built in ${img.outcomes[1].buildMs} ms`);
      const again = await store.ensure(req);
      expect(again.outcomes.map((o) => o.built)).toEqual([false, false]);
    },
    BUILD_TIMEOUT,
  );

  it(
    'mounts a root whose writes land in RAM (tmpfs), not in the layers, and unmounts it fully',
    async () => {
      const img = await store.ensure({
        distro: 'debian',
        release: 'bookworm',
        display: 'desktop',
        packages: [],
      });
      const target = join(work, 'root');
      const m = await mountRootfs(img, { target, writableMiB: 32 });
      mounts.push(m);
      const table = await readMounts();
      expect(table.find((e) => e.mountPoint === target)?.fsType).toBe('overlay');
      expect(table.find((e) => e.mountPoint === m.scratch)?.fsType).toBe('tmpfs');
      // Both layers are visible through the overlay.
      await expect(stat(join(target, 'usr/bin/Xtigervnc'))).resolves.toBeTruthy();
      await expect(stat(join(target, 'usr/bin/dpkg'))).resolves.toBeTruthy();
      await writeFile(join(target, 'etc/virtos-probe'), 'secret user data\n');
      expect(await readFile(join(m.scratch, 'upper/etc/virtos-probe'), 'utf8')).toBe(
        'secret user data\n',
      );
      for (const l of img.layers)
        await expect(stat(join(l.path, 'etc/virtos-probe'))).rejects.toThrow();
      // The tmpfs size caps what an environment can write.
      await expect(writeFile(join(target, 'big'), Buffer.alloc(40 * 1024 * 1024))).rejects.toThrow(
        /ENOSPC/,
      );
      await m.dispose();
      await m.dispose(); // idempotent
      expect(mountsUnder(await readMounts(), work)).toEqual([]);
      await expect(stat(target)).rejects.toThrow();
      await expect(stat(m.scratch)).rejects.toThrow();
    },
    BUILD_TIMEOUT,
  );

  it(
    'builds an apps layer on the base and reuses it',
    async () => {
      const req = {
        distro: 'debian',
        release: 'bookworm',
        display: 'none',
        packages: ['jq'],
      } as const;
      const img = await store.ensure(req);
      expect(img.layers.map((l) => l.manifest.kind)).toEqual(['base', 'apps']);
      expect(img.layers[1]?.manifest.requested).toEqual(['jq']);
      expect(img.layers[1]?.manifest.packages.map((p) => p.name)).toContain('jq');
      if (img.outcomes[1]?.built)
        console.log(`apps layer (jq) built in ${img.outcomes[1].buildMs} ms`);
      const again = await store.ensure(req);
      expect(again.outcomes.every((o) => !o.built)).toBe(true);
      const [v] = await store.verify(img.key);
      expect(v?.ok).toBe(true);
    },
    BUILD_TIMEOUT,
  );

  it(
    'a cancelled apps build leaves no layer, no temp dir and no mount',
    async () => {
      const req = {
        distro: 'debian',
        release: 'bookworm',
        display: 'none',
        packages: ['tree', 'bc'],
      } as const;
      const ac = new AbortController();
      const p = store.ensure(req, {
        signal: ac.signal,
        onProgress: (x: BuildProgress) => {
          if (x.phase !== 'reused') ac.abort();
        },
      });
      await expect(p).rejects.toMatchObject({ code: 'core.cancelled' });
      const layers = await store.list();
      expect(layers.some((l) => l.requested.join(',') === 'bc,tree')).toBe(false);
      const leftovers = mountsUnder(await readMounts(), join(CACHE, 'tmp'));
      expect(leftovers).toEqual([]);
    },
    BUILD_TIMEOUT,
  );

  it(
    'keeps a warm pool of real mounts, refills after acquire, and disposes them all',
    async () => {
      const img = await store.ensure({
        distro: 'debian',
        release: 'bookworm',
        display: 'none',
        packages: [],
      });
      const pool = new WarmPool({ dir: join(work, 'pool') });
      try {
        pool.register(img, { size: 2, writableMiB: 16 });
        await pool.settled();
        expect(pool.stats(img.key)[0]?.ready).toBe(2);
        const t0 = performance.now();
        const m = await pool.acquire(img.key);
        const ms = performance.now() - t0;
        mounts.push(m);
        expect(ms).toBeLessThan(1000); // served from the pool, not mounted (not a benchmark)
        await writeFile(join(m.path, 'tmp/x'), 'x');
        await pool.settled();
        expect(pool.stats(img.key)[0]).toMatchObject({ ready: 2, hits: 1 });
        await m.dispose();
      } finally {
        await pool.dispose();
      }
      expect(mountsUnder(await readMounts(), work)).toEqual([]);
    },
    BUILD_TIMEOUT,
  );
});
