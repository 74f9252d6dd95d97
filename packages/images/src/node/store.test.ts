import { mkdtemp, mkdir, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageErrors } from '../common/errors.js';
import type { BuildProgress, ImageRequest } from '../common/types.js';
import type { DistroBuilder } from './builders.js';
import type { Exec } from './exec.js';
import { createImageStore } from './store.js';

// Unit tests of the store with a fake base builder (no root, no mounts): reuse, atomicity,
// cancellation, errors, list/prune/verify. Upper layers need overlay mounts: see the integration test.

const REQ: ImageRequest = { distro: 'debian', release: 'bookworm', display: 'none', packages: [] };

function fakeBuilder(available = true): DistroBuilder {
  return {
    kind: 'mmdebstrap',
    tool: 'fake-build',
    variant: 'minbase',
    cleanupGlobs: [],
    identity: async () => 'fake/1.0',
    availability: async () =>
      available
        ? { available: true }
        : { available: false, reason: 'the debian mirror x is not reachable from this host' },
    baseCommand: (p) => ['fake-build', p.target],
    baseSetupCommands: () => [['true']],
    installCommands: (pk) => [['install', ...pk]],
    listPackages: async () => [{ name: 'base-files', version: '12' }],
  };
}

/** Exec that "builds" a tiny tree; with `hang`, waits until aborted. */
function fakeExec(calls: string[][], opts: { hang?: boolean; fail?: string } = {}): Exec {
  return async (argv, o) => {
    calls.push([...argv]);
    if (argv[0] !== 'fake-build') return { code: 0, stdout: '', stderr: '' };
    const target = argv[1] ?? '';
    await mkdir(join(target, 'etc'), { recursive: true });
    await writeFile(join(target, 'etc', 'os-release'), 'ID=debian\n');
    o?.onLine?.('0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded.');
    o?.onLine?.('Get:1 http://deb.debian.org/debian bookworm/main amd64 a amd64 1 [10 kB]');
    o?.onLine?.('Setting up a (1) ...');
    if (opts.fail) return { code: 1, stdout: '', stderr: opts.fail };
    if (opts.hang) {
      if (o?.signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
      await new Promise((_, reject) =>
        o?.signal?.addEventListener('abort', () =>
          reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
        ),
      );
    }
    return { code: 0, stdout: '', stderr: '' };
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtos-images-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const storeWith = (exec: Exec, builder = fakeBuilder(), isRoot = true) =>
  createImageStore({
    cacheDir: dir,
    exec,
    builders: { mmdebstrap: builder },
    isRoot: () => isRoot,
    progressIntervalMs: 0,
  });

describe('ImageStore (fake builder)', () => {
  it('builds a base layer once, then reuses it', async () => {
    const calls: string[][] = [];
    const store = storeWith(fakeExec(calls));
    const progress: BuildProgress[] = [];
    const a = await store.ensure(REQ, { onProgress: (p) => progress.push(p) });
    expect(a.layers).toHaveLength(1);
    expect(a.key).toBe(a.layers[0]?.id);
    expect(a.outcomes[0]).toMatchObject({ kind: 'base', built: true });
    expect(a.layers[0]?.manifest).toMatchObject({
      kind: 'base',
      parent: null,
      builder: 'fake/1.0',
      packages: [{ name: 'base-files', version: '12' }],
    });
    expect(a.layers[0]?.path).toBe(join(dir, 'layers', a.key, 'tree'));
    expect(progress.some((p) => p.packagesTotal === 2 && p.bytes === 10_000)).toBe(true);
    expect(progress.at(-1)?.phase).toBe('done');
    const builds = calls.filter((c) => c[0] === 'fake-build').length;
    const b = await store.ensure(REQ);
    expect(b.key).toBe(a.key);
    expect(b.outcomes[0]).toMatchObject({ built: false, buildMs: 0 });
    expect(calls.filter((c) => c[0] === 'fake-build').length).toBe(builds);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('shares one build between concurrent ensures', async () => {
    const calls: string[][] = [];
    const store = storeWith(fakeExec(calls));
    const [a, b] = await Promise.all([store.ensure(REQ), store.ensure(REQ)]);
    expect(a.key).toBe(b.key);
    expect(calls.filter((c) => c[0] === 'fake-build')).toHaveLength(1);
  });

  it('creates the desktop user in a chroot of the new tree', async () => {
    const calls: string[][] = [];
    await storeWith(fakeExec(calls)).ensure(REQ);
    expect(calls.some((c) => c[0] === 'chroot' && c[2] === 'true')).toBe(true);
  });

  it('leaves no layer and no temp dir when cancelled', async () => {
    const store = storeWith(fakeExec([], { hang: true }));
    const ac = new AbortController();
    const p = store.ensure(REQ, {
      signal: ac.signal,
      onProgress: (x) => x.phase === 'configure' && ac.abort(),
    });
    await expect(p).rejects.toThrow();
    expect(await store.list()).toEqual([]);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('maps builder failures to coded errors with hints', async () => {
    const cases: [string, string][] = [
      [
        'E: Failed to fetch http://deb.debian.org/x  Temporary failure resolving',
        'images.mirror_unreachable',
      ],
      ['dpkg: error: No space left on device', 'images.no_space'],
      ['E: Unable to locate package nope', 'images.build_failed'],
    ];
    for (const [stderr, code] of cases) {
      const e = await storeWith(fakeExec([], { fail: stderr }))
        .ensure(REQ)
        .catch((x: unknown) => x);
      expect(ImageErrors.is(e)).toBe(true);
      expect((e as { code: string }).code).toBe(code);
      expect((e as { hint?: string }).hint).toBeTruthy();
    }
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('refuses to build without root, and names unreachable mirrors', async () => {
    await expect(storeWith(fakeExec([]), fakeBuilder(), false).ensure(REQ)).rejects.toMatchObject({
      code: 'images.not_root',
    });
    await expect(storeWith(fakeExec([]), fakeBuilder(false)).ensure(REQ)).rejects.toMatchObject({
      code: 'images.unavailable',
    });
  });

  it('ignores a crashed build (a temp dir, or a layer dir without manifest)', async () => {
    const store = storeWith(fakeExec([]));
    const plan = await store.ensure(REQ);
    await rm(join(dir, 'layers', plan.key, 'manifest.json'));
    expect(await store.list()).toEqual([]);
    await rm(join(dir, 'layers', plan.key), { recursive: true });
    await mkdir(join(dir, 'tmp', `${plan.key}.999999.dead`, 'tree'), { recursive: true });
    const again = await store.ensure(REQ);
    expect(again.outcomes[0]?.built).toBe(true);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('verifies tree hashes and detects a changed file', async () => {
    const store = storeWith(fakeExec([]));
    const img = await store.ensure(REQ);
    expect((await store.verify())[0]).toMatchObject({ id: img.key, ok: true });
    const f = join(img.layers[0]?.path ?? '', 'etc', 'os-release');
    await writeFile(f, 'ID=evil\n');
    expect((await store.verify(img.key.slice(0, 12)))[0]?.ok).toBe(false);
    await chmod(f, 0o600);
    await expect(store.verify('f'.repeat(64))).rejects.toMatchObject({ code: 'images.not_found' });
  });

  it('prunes what is not kept, never what is kept', async () => {
    const store = storeWith(fakeExec([]));
    const a = await store.ensure(REQ);
    const b = await store.ensure({ ...REQ, release: 'trixie' });
    expect(await store.prune()).toEqual([]); // no criteria: removes nothing
    expect(await store.prune({ keep: [a.key], dryRun: true })).toEqual([b.key]);
    expect((await store.list()).length).toBe(2);
    expect(await store.prune({ keep: [a.key] })).toEqual([b.key]);
    expect((await store.list()).map((m) => m.id)).toEqual([a.key]);
    expect(await store.prune({ olderThanMs: 60_000 })).toEqual([]);
  });

  it('rejects malformed requests', async () => {
    const store = storeWith(fakeExec([]));
    await expect(store.ensure({ ...REQ, release: '../etc' })).rejects.toMatchObject({
      code: 'images.invalid_request',
    });
    await expect(store.ensure({ ...REQ, packages: ['-o=x'] })).rejects.toMatchObject({
      code: 'images.invalid_request',
    });
  });
});
