import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../program.js';
import type { CliContext } from '../io.js';
import { formatAge, formatBytes, imageCacheDir, parseDuration } from './image.js';

let dir: string;
let out: string;
let err: string;
const ctx = (): CliContext => {
  const c = {
    out: (t: string) => void (out += t),
    err: (t: string) => void (err += t),
    env: { VIRTOS_HOME: dir },
    cwd: dir,
    readFile: async () => '{',
    readStdin: async () => '{',
    exitCode: 0,
  };
  return c as CliContext;
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtos-cli-image-'));
  out = '';
  err = '';
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('virtos image', () => {
  it('lists an empty cache, as text and as JSON', async () => {
    expect(await runCli(['image', 'ls'], ctx())).toBe(0);
    expect(out).toContain(`No layers in ${join(dir, 'images')}`);
    out = '';
    expect(await runCli(['image', 'ls', '--json', '--cache', 'c'], ctx())).toBe(0);
    expect(JSON.parse(out)).toEqual({ ok: true, cacheDir: join(dir, 'c'), layers: [] });
  });

  it('rejects unknown distros and displays with a hint', async () => {
    expect(await runCli(['image', 'build', '--distro', 'beos', '--json'], ctx())).toBe(4);
    expect(JSON.parse(out).error).toMatchObject({ code: 'cli.usage' });
    expect(await runCli(['image', 'build', '--display', 'holo'], ctx())).toBe(4);
    expect(err).toMatch(/Unknown display 'holo'[\s\S]*Hint: One of/);
  });

  it('rejects an invalid spec file and mixing a file with flags', async () => {
    expect(await runCli(['image', 'build', 'spec.json'], ctx())).toBe(4);
    expect(await runCli(['image', 'build', 'spec.json', '--display', 'desktop'], ctx())).toBe(4);
  });

  it('prune needs a criterion; verify of an unknown id is not found', async () => {
    expect(await runCli(['image', 'prune'], ctx())).toBe(4);
    expect(await runCli(['image', 'prune', '--older-than', '7d', '--json'], ctx())).toBe(0);
    expect(JSON.parse(out)).toEqual({ ok: true, removed: [], dryRun: false });
    expect(await runCli(['image', 'verify', 'abcdef'], ctx())).toBe(7);
  });
});

describe('formatting', () => {
  it('sizes, ages, durations and the cache dir', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1.5 * 1024 * 1024)).toBe('1.5 MiB');
    expect(formatAge(90_000)).toBe('2m');
    expect(formatAge(3 * 86_400_000)).toBe('3d');
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('2')).toBe(2 * 86_400_000);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
    expect(imageCacheDir({ ...ctx(), env: { HOME: '/h' } }, undefined)).toBe('/h/.virtos/images');
  });
});
