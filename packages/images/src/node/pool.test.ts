import { describe, expect, it } from 'vitest';
import type { ResolvedImage } from '../common/types.js';
import type { MountedRootfs } from './mount.js';
import { WarmPool, type Mounter } from './pool.js';

const image = (key: string): ResolvedImage => ({ key, layers: [], outcomes: [] });

/** A fake mounter that records live mounts and can be told to fail. */
function fakeMounter() {
  const live = new Set<string>();
  let fail = false;
  let made = 0;
  const mount: Mounter = async (img, opts) => {
    await Promise.resolve();
    if (fail) throw new Error('mount refused');
    made += 1;
    live.add(opts.target);
    const m: MountedRootfs = {
      path: opts.target,
      scratch: `${opts.target}.rw`,
      key: img.key,
      writableMiB: opts.writableMiB,
      dispose: async () => void live.delete(opts.target),
    };
    return m;
  };
  return {
    mount,
    live,
    get made() {
      return made;
    },
    setFail(v: boolean) {
      fail = v;
    },
  };
}

describe('WarmPool', () => {
  it('fills to size, serves ready mounts at once and refills', async () => {
    const f = fakeMounter();
    const pool = new WarmPool({ dir: '/pool', mount: f.mount });
    pool.register(image('k1'), { size: 2, writableMiB: 64 });
    await pool.settled();
    expect(pool.stats('k1')[0]).toMatchObject({ ready: 2, filling: 0, size: 2 });
    const a = await pool.acquire('k1');
    expect(a.key).toBe('k1');
    expect(a.writableMiB).toBe(64);
    expect(pool.stats('k1')[0]).toMatchObject({ hits: 1, misses: 0 });
    await pool.settled();
    expect(pool.stats('k1')[0]?.ready).toBe(2);
    expect(f.made).toBe(3);
    await a.dispose();
    await pool.dispose();
    expect(f.live.size).toBe(0);
  });

  it('mounts on demand when nothing is ready (a miss)', async () => {
    const f = fakeMounter();
    const pool = new WarmPool({ dir: '/pool', mount: f.mount });
    pool.register(image('k'), { size: 0, writableMiB: 8 });
    const m = await pool.acquire('k');
    expect(pool.stats('k')[0]).toMatchObject({ hits: 0, misses: 1, ready: 0 });
    await m.dispose();
    await pool.dispose();
  });

  it('gives every mount its own target', async () => {
    const f = fakeMounter();
    const pool = new WarmPool({ dir: '/pool', mount: f.mount });
    pool.register(image('abc'), { size: 3, writableMiB: 8 });
    await pool.settled();
    const got = await Promise.all([pool.acquire('abc'), pool.acquire('abc'), pool.acquire('abc')]);
    expect(new Set(got.map((m) => m.path)).size).toBe(3);
    for (const m of got) expect(m.path.startsWith('/pool/')).toBe(true);
    await pool.dispose();
    expect(f.live.size).toBe(3); // acquired mounts belong to their owners
    await Promise.all(got.map((m) => m.dispose()));
    expect(f.live.size).toBe(0);
  });

  it('stops refilling after repeated failures and recovers on acquire', async () => {
    const f = fakeMounter();
    f.setFail(true);
    const pool = new WarmPool({ dir: '/pool', mount: f.mount });
    pool.register(image('k'), { size: 2, writableMiB: 8 });
    await pool.settled();
    expect(pool.stats('k')[0]).toMatchObject({ ready: 0, filling: 0 });
    f.setFail(false);
    const m = await pool.acquire('k');
    await pool.settled();
    expect(pool.stats('k')[0]?.ready).toBe(2);
    await m.dispose();
    await pool.dispose();
    expect(f.live.size).toBe(0);
  });

  it('refuses unknown keys and use after dispose', async () => {
    const pool = new WarmPool({ dir: '/pool', mount: fakeMounter().mount });
    await expect(pool.acquire('nope')).rejects.toThrow(/knows no image/);
    await pool.dispose();
    await pool.dispose();
    expect(() => pool.register(image('k'), { size: 1, writableMiB: 8 })).toThrow(/disposed/);
  });

  it('unregister disposes ready mounts of that key only', async () => {
    const f = fakeMounter();
    const pool = new WarmPool({ dir: '/pool', mount: f.mount });
    pool.register(image('a'), { size: 1, writableMiB: 8 });
    pool.register(image('b'), { size: 1, writableMiB: 8 });
    await pool.settled();
    expect(f.live.size).toBe(2);
    await pool.unregister('a');
    expect(f.live.size).toBe(1);
    expect(pool.stats().map((s) => s.key)).toEqual(['b']);
    await pool.dispose();
    expect(f.live.size).toBe(0);
  });
});
