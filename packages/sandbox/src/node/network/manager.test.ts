import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { NetworkErrors } from './errors.js';
import type { CommandRunner } from './exec.js';
import { createNetworkManager } from './manager.js';
import { envNames, isVirtosName, shortId } from './names.js';

describe('network manager (recorded commands)', () => {
  let dir: string;
  const calls: string[][] = [];
  const runner: CommandRunner = async (file, args) => {
    calls.push([file, ...args]);
    if (args.includes('fail-me')) throw NetworkErrors.create('setup_failed', 'boom');
    return { stdout: '[]', stderr: '' };
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'virtos-net-unit-'));
    calls.length = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('names everything virtos-<8 hex>, within the 15-byte interface limit', () => {
    const n = envNames('env-42');
    expect(n.netns).toBe(`virtos-${shortId('env-42')}`);
    expect(n.hostVeth.length).toBeLessThanOrEqual(15);
    expect(isVirtosName(n.hostVeth)).toBe(true);
    expect(shortId('env-42')).not.toBe(shortId('env-43'));
  });

  it('refuses tor mode without a Tor client, with a hint', async () => {
    const m = createNetworkManager({ stateDir: dir, runner });
    const e = await m
      .setup({ id: 'e1', name: 'e1' }, { mode: 'tor', allow: [], peers: [] })
      .catch((x: unknown) => x);
    expect(NetworkErrors.is(e, 'unavailable')).toBe(true);
    expect((e as { hint?: string }).hint).toMatch(/tor/i);
    expect(calls).toEqual([]);
  });

  it('none mode: netns + lo only, with argument vectors (no shell)', async () => {
    const m = createNetworkManager({ stateDir: dir, runner });
    const a = await m.setup({ id: 'e2', name: 'e2' }, { mode: 'none', allow: [], peers: [] });
    const ns = envNames('e2').netns;
    expect(calls[0]).toEqual(['ip', 'netns', 'add', ns]);
    expect(calls).toContainEqual(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    expect(calls.some((c) => c.includes('veth'))).toBe(false);
    expect(a.netnsPath).toBe(`/run/netns/${ns}`);
    await a.dispose();
    expect(calls.at(-1)).toEqual(['ip', 'netns', 'del', ns]);
    expect(await readdir(join(dir, 'network'))).toEqual([]);
  });

  it('rolls back and reports a coded error when a step fails', async () => {
    const failing: CommandRunner = async (file, args) => {
      calls.push([file, ...args]);
      if (args[0] === '-n' && args.includes('lo')) throw new Error('lo refused');
      return { stdout: '[]', stderr: '' };
    };
    const m = createNetworkManager({ stateDir: dir, runner: failing });
    const e = await m
      .setup({ id: 'e3', name: 'e3' }, { mode: 'none', allow: [], peers: [] })
      .catch((x: unknown) => x);
    expect(NetworkErrors.is(e, 'setup_failed')).toBe(true);
    expect(calls.at(-1)).toEqual(['ip', 'netns', 'del', envNames('e3').netns]);
    expect(await readdir(join(dir, 'network'))).toEqual([]);
  });

  it('stops before touching the kernel when already cancelled', async () => {
    const m = createNetworkManager({ stateDir: dir, runner });
    const ac = new AbortController();
    ac.abort();
    const e = await m
      .setup(
        { id: 'e4', name: 'e4' },
        { mode: 'none', allow: [], peers: [] },
        { signal: ac.signal },
      )
      .catch((x: unknown) => x);
    expect((e as { errorClass?: string }).errorClass).toBe('cancelled');
    expect(calls).toEqual([]);
  });
});

describe('network manager rollback ownership', () => {
  it('does not remove a namespace it failed to create (the name may belong to someone else)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtos-net-unit-'));
    const calls: string[][] = [];
    const runner: CommandRunner = async (file, args) => {
      calls.push([file, ...args]);
      if (args[0] === 'netns' && args[1] === 'add') throw new Error('File exists');
      return { stdout: '[]', stderr: '' };
    };
    try {
      const m = createNetworkManager({ stateDir: dir, runner });
      const e = await m
        .setup({ id: 'e5', name: 'e5' }, { mode: 'none', allow: [], peers: [] })
        .catch((x: unknown) => x);
      expect(NetworkErrors.is(e, 'setup_failed')).toBe(true);
      expect((e as { hint?: string }).hint).toMatch(/leftover/);
      expect(calls).toEqual([['ip', 'netns', 'add', envNames('e5').netns]]);
      expect(await readdir(join(dir, 'network'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('network manager teardown failures', () => {
  it('keeps the record when the namespace cannot be removed, and a retry finishes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtos-net-unit-'));
    let failDel = true;
    const runner: CommandRunner = async (_file, args) => {
      if (args[0] === 'netns' && args[1] === 'del' && failDel) throw new Error('Device busy');
      return { stdout: '[]', stderr: '' };
    };
    try {
      const m = createNetworkManager({ stateDir: dir, runner });
      const a = await m.setup({ id: 'e6', name: 'e6' }, { mode: 'none', allow: [], peers: [] });
      const e = await a.dispose().catch((x: unknown) => x);
      expect(NetworkErrors.is(e, 'teardown_failed')).toBe(true);
      expect(await readdir(join(dir, 'network'))).toContain(`${shortId('e6')}.json`);
      failDel = false;
      await a.dispose();
      expect(await readdir(join(dir, 'network'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('network manager forwarding restore (recorded commands)', () => {
  it('restores forwarding when VirtOS turned it on (guard present) and no uplink is left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtos-net-unit-'));
    const procSysDir = join(dir, 'sys');
    await mkdir(join(procSysDir, 'net/ipv4'), { recursive: true });
    await writeFile(join(procSysDir, 'net/ipv4/ip_forward'), '0\n');
    const calls: string[][] = [];
    let linkList = '[]';
    const runner: CommandRunner = async (file, args) => {
      calls.push([file, ...args]);
      if (file === 'ip' && args.join(' ') === '-j link show')
        return { stdout: linkList, stderr: '' };
      return { stdout: '[]', stderr: '' };
    };
    try {
      const m = createNetworkManager({
        stateDir: dir,
        slotDir: join(dir, 'slots'),
        procSysDir,
        runner,
        internetDnsServers: [],
      });
      const a = await m.setup({ id: 'f1', name: 'f1' }, { mode: 'internet', allow: [], peers: [] });
      expect(calls).toContainEqual(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      const guard = calls.findIndex((c) => c[0] === 'nft' && c[1] === '-f');
      const on = calls.findIndex((c) => c.join(' ') === 'sysctl -q -w net.ipv4.ip_forward=1');
      expect(guard).toBeLessThan(on); // the guard is in force before forwarding is on
      linkList = JSON.stringify([{ ifname: 'virtos-0a1b2c3d' }]); // another manager's uplink
      await a.dispose();
      expect(calls).not.toContainEqual(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
      linkList = '[]';
      await m.dispose();
      expect(calls).toContainEqual(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
      expect(calls.at(-1)).toEqual(['nft', 'delete', 'table', 'inet', 'virtos-guard']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
