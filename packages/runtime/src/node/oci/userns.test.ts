import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsernsAllocator, claimSlotFile } from './userns.js';

describe('user-namespace slot claims', () => {
  let dir: string;
  let slots: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'virtos-userns-'));
    slots = join(dir, '.slots');
    await mkdir(slots);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('claims the lowest free slot with the name inside, and leaves no temp file', async () => {
    expect(await claimSlotFile(slots, 'virtos-a')).toBe(0);
    expect(await claimSlotFile(slots, 'virtos-b')).toBe(1);
    expect((await readdir(slots)).sort()).toEqual(['0', '1']);
    expect(await readFile(join(slots, '0'), 'utf8')).toBe('virtos-a');
    expect(await readFile(join(slots, '1'), 'utf8')).toBe('virtos-b');
  });

  it('never hands one slot to two concurrent claims', async () => {
    const names = Array.from({ length: 24 }, (_, i) => `virtos-c${i}`);
    const got = await Promise.all(names.map((n) => claimSlotFile(slots, n)));
    expect(new Set(got).size).toBe(names.length);
    for (const [i, slot] of got.entries()) {
      expect(await readFile(join(slots, String(slot)), 'utf8')).toBe(names[i]);
    }
  });

  it('fails with runtime.unavailable when every slot is taken', async () => {
    await claimSlotFile(slots, 'virtos-a', 2);
    await claimSlotFile(slots, 'virtos-b', 2);
    await expect(claimSlotFile(slots, 'virtos-c', 2)).rejects.toMatchObject({
      code: 'runtime.unavailable',
    });
    expect((await readdir(slots)).sort()).toEqual(['0', '1']);
  });

  it('a temp file left by a crash is no slot, and release of its name removes it', async () => {
    // A claim interrupted after writing its temp file and before linking it.
    await writeFile(join(slots, '.claim-deadbeef0000'), 'virtos-crashed');
    const alloc = new UsernsAllocator(dir);
    expect(await claimSlotFile(slots, 'virtos-a')).toBe(0);
    expect(await alloc.holders()).toEqual(['virtos-a']);
    await alloc.release('virtos-crashed');
    await alloc.release('virtos-a');
    expect(await readdir(slots)).toEqual([]);
    expect(await claimSlotFile(slots, 'virtos-b')).toBe(0);
  });
});
