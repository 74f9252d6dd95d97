/**
 * The daemon with the REAL runtime wired through builtins.ts (crun or runc, overlay roots on tmpfs,
 * network namespaces): lifecycles of a terminal and a desktop environment, queueing when capacity
 * is short, illegal transitions, exec through the CLI, kill -9 of a daemon process during
 * provisioning (repeated), after which a restart leaves no trace and every record is truthful,
 * environments that outlive a graceful stop and a kill -9 and are adopted by the next daemon, and
 * the host-mode registry.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvironmentRecord } from '@virtos/orchestrator';
import type { EnvironmentSpec } from '@virtos/spec';
import { CGROUP_PARENT, RfbSession, cgroupRoots } from '@virtos/runtime';
import { DaemonClient, HttpTransport } from '../src/index.js';
import { PASS, startInProcess, stopInProcess, waitFor, type InProcess } from './in-process.js';
import {
  IMAGE_CACHE,
  killNine,
  mountsUnder,
  realRuntimeSkipReason,
  startChildDaemon,
  stopGracefully,
  testStateDir,
  tracesOf,
  type ChildDaemon,
} from './real-runtime.js';

const skip = await realRuntimeSkipReason();
const TERMINAL = 'a debian shell with jq';

describe.skipIf(skip !== undefined)(
  `daemon with the real runtime${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let p: InProcess | undefined;
    beforeAll(async () => {
      p = await startInProcess();
    }, 120_000);
    afterAll(async () => {
      await stopInProcess(p);
    }, 120_000);

    it('terminal: create from text -> running -> suspended -> running -> terminated, nothing left', async () => {
      const { client, stateDir } = p!;
      const out = await client.create({ request: TERMINAL }, { wait: true });
      expect(out.ok).toBe(true);
      const rec = (out as { record: EnvironmentRecord }).record;
      expect(rec.state).toBe('running');
      expect(rec.runtime?.kind).toMatch(/^oci\.(crun|runc)\/v1$/);
      let buf = '';
      const code = await client.exec(
        rec.id,
        { args: ['/bin/sh', '-c', 'id -u; jq --version'] },
        {
          stdout: (s) => (buf += s),
          stderr: () => undefined,
        },
      );
      expect(code).toBe(0);
      expect(buf).toBe('1000\njq-1.6\n');
      expect((await client.suspend(rec.id)).state).toBe('suspended');
      // Illegal transitions are refused with codes that name state and operation.
      await expect(client.suspend(rec.id)).rejects.toMatchObject({
        code: 'orchestrator.illegal_operation',
      });
      await expect(
        client.exec(
          rec.id,
          { args: ['true'] },
          { stdout: () => undefined, stderr: () => undefined },
        ),
      ).rejects.toMatchObject({
        code: 'orchestrator.illegal_operation',
        message: expect.stringMatching(/suspended/),
      });
      expect((await client.resume(rec.id)).state).toBe('running');
      await expect(client.resume(rec.id)).rejects.toMatchObject({
        code: 'orchestrator.illegal_operation',
      });
      expect((await client.terminate(rec.id)).state).toBe('terminated');
      await expect(client.resume(rec.id)).rejects.toMatchObject({
        code: 'orchestrator.illegal_operation',
      });
      expect(await tracesOf(rec.id, stateDir)).toEqual([]);
      const transitions = (await client.events(rec.id)).filter((e) => e.to).map((e) => e.to);
      expect(transitions).toEqual([
        'requested',
        'provisioning',
        'running',
        'suspended',
        'running',
        'terminated',
      ]);
    });

    it('desktop: running with a VNC display that answers RFB; terminated leaves nothing', async () => {
      const { client, stateDir } = p!;
      const out = await client.create({ request: 'a debian desktop' }, { wait: true });
      expect(out.ok).toBe(true);
      const rec = (out as { record: EnvironmentRecord }).record;
      expect(rec.state, rec.reason).toBe('running');
      expect(rec.display).toMatchObject({ protocol: 'rfb', width: 1280, height: 800 });
      const s = await RfbSession.connect(rec.display!.socketPath, AbortSignal.timeout(10_000));
      try {
        expect(s.init.width).toBe(1280);
      } finally {
        s.close();
      }
      expect((await client.suspend(rec.id)).state).toBe('suspended');
      expect((await client.resume(rec.id)).state).toBe('running');
      await client.terminate(rec.id);
      expect(await tracesOf(rec.id, stateDir)).toEqual([]);
    });
  },
);

describe.skipIf(skip !== undefined)('queueing when capacity is short (real runtime)', () => {
  let p: InProcess | undefined;
  beforeAll(async () => {
    // One CPU and 1.5 GiB: two 1-CPU environments cannot run at once.
    p = await startInProcess([
      { id: 'local', cpus: 1, memoryMiB: 1536, gpus: 0, runtimes: ['container', 'microvm'] },
    ]);
  }, 120_000);
  afterAll(async () => {
    await stopInProcess(p);
  }, 120_000);

  it('the second environment waits in requested (queue length 1) and starts when the first ends', async () => {
    const { client } = p!;
    const a = (
      (await client.create({ request: TERMINAL }, { wait: true })) as { record: EnvironmentRecord }
    ).record;
    expect(a.state).toBe('running');
    const b = ((await client.create({ request: TERMINAL })) as { record: EnvironmentRecord })
      .record;
    await new Promise((r) => setTimeout(r, 300));
    expect((await client.get(b.id)).state).toBe('requested');
    const metrics = await (
      await fetch(`${p!.daemon.url}/metrics`, { headers: { authorization: `Bearer ${p!.token}` } })
    ).text();
    expect(metrics).toContain('virtos_scheduler_queue_length 1');
    expect(metrics).toContain('virtos_environments{state="requested"} 1');
    await client.terminate(a.id);
    const started = await waitFor(client, b.id, (r) => r.state === 'running');
    expect(started.state).toBe('running');
    await client.terminate(b.id);
  });
});

describe.skipIf(skip !== undefined)(
  'kill -9 of the daemon during provisioning (real runtime)',
  () => {
    let home: string;
    let stateDir: string;
    let current: ChildDaemon | undefined;
    const env = () => ({
      VIRTOS_HOME: home,
      VIRTOS_STATE_DIR: stateDir,
      VIRTOS_IMAGE_CACHE: IMAGE_CACHE,
    });

    beforeAll(async () => {
      home = await mkdtemp(join(tmpdir(), 'virtos-srv-kill-'));
      stateDir = testStateDir();
    });
    afterAll(async () => {
      if (current) await killNine(current);
      // Whatever a failed run left: start once more, terminate everything, stop gracefully.
      try {
        const d = await startChildDaemon(env());
        const t = await new DaemonClient(new HttpTransport(d.url, undefined)).unlock({
          passphrase: PASS,
        });
        const c = new DaemonClient(new HttpTransport(d.url, t.token));
        for (const r of await c.list())
          if (r.state !== 'terminated') await c.terminate(r.id).catch(() => undefined);
        await stopGracefully(d);
      } catch {
        // nothing more to do
      }
      await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    }, 180_000);

    // Each round kills at a later point of provisioning: right at the transition, while the root
    // file system is mounted, and while the sandbox and network are made.
    const KILL_AT = [
      /-> provisioning|provisioning with/,
      /mounting the root/,
      /network|creating the sandbox|starting/,
    ];

    it('restart after SIGKILL reconciles: records truthful, then no process, mount or netns left (3 rounds)', async () => {
      const passFile = join(home, 'pass');
      await writeFile(passFile, PASS);
      let initialized = false;
      for (let round = 0; round < KILL_AT.length; round++) {
        current = await startChildDaemon(env());
        const anon = new DaemonClient(new HttpTransport(current.url, undefined));
        const { token } = initialized
          ? await anon.unlock({ passphrase: PASS })
          : await anon.initVault(PASS);
        initialized = true;
        let client = new DaemonClient(new HttpTransport(current.url, token));
        // An allowlist environment: it has its own netns and an egress proxy in the daemon.
        const out = await client.create({
          request: `${TERMINAL} that can only reach deb.debian.org`,
        });
        expect(out.ok).toBe(true);
        const id = (out as { record: EnvironmentRecord }).record.id;
        const ac = new AbortController();
        let killedAt = '';
        await client
          .follow(
            id,
            (e) => {
              if (
                !killedAt &&
                KILL_AT[round]!.test(`${e.from ?? ''} -> ${e.to ?? ''} ${e.message}`)
              ) {
                killedAt = e.message;
                current!.child.kill('SIGKILL');
                ac.abort();
              }
            },
            { signal: ac.signal, until: (e) => e.to === 'running' },
          )
          .catch(() => undefined);
        await killNine(current);
        expect(killedAt, `round ${round}: the kill point was never reached`).not.toBe('');

        // Restart: unlocking starts the orchestrator, whose start reconciles every record.
        current = await startChildDaemon(env());
        const t2 = await new DaemonClient(new HttpTransport(current.url, undefined)).unlock({
          passphrase: PASS,
        });
        client = new DaemonClient(new HttpTransport(current.url, t2.token));
        const settled = await waitFor(
          client,
          id,
          (r) => ['running', 'failed', 'terminated'].includes(r.state),
          90_000,
        );
        // Truthful: a record that says running runs (exec answers); one that says failed has no trace.
        if (settled.state === 'running') {
          let o = '';
          const code = await client.exec(
            id,
            { args: ['/bin/sh', '-c', 'echo alive'] },
            {
              stdout: (s) => (o += s),
              stderr: () => undefined,
            },
          );
          expect([code, o]).toEqual([0, 'alive\n']);
        } else {
          expect(await tracesOf(id, stateDir)).toEqual([]);
        }
        const all = await client.list();
        expect(all.filter((r) => r.state === 'provisioning' || r.state === 'requested')).toEqual(
          [],
        );
        await client.terminate(id);
        expect(await tracesOf(id, stateDir), `round ${round} (killed at "${killedAt}")`).toEqual(
          [],
        );
        expect(await stopGracefully(current)).toBe(0);
        current = undefined;
        expect(mountsUnder(stateDir)).toEqual([]);
      }
    }, 300_000);

    it('SIGTERM during provisioning: exit 0, the record is requeued or kept running, never stuck, no trace', async () => {
      current = await startChildDaemon(env());
      const { token } = await new DaemonClient(new HttpTransport(current.url, undefined)).unlock({
        passphrase: PASS,
      });
      let client = new DaemonClient(new HttpTransport(current.url, token));
      const out = await client.create({ request: TERMINAL });
      const id = (out as { record: EnvironmentRecord }).record.id;
      const ac = new AbortController();
      let exit: Promise<number | null> | undefined;
      await client
        .follow(
          id,
          (e) => {
            if (!exit && /mounting the root/.test(e.message)) {
              exit = stopGracefully(current!);
              ac.abort();
            }
          },
          { signal: ac.signal, until: (e) => e.to === 'running' },
        )
        .catch(() => undefined);
      expect(exit, 'the stop point was never reached').toBeDefined();
      expect(await exit).toBe(0);
      current = await startChildDaemon(env());
      const t2 = await new DaemonClient(new HttpTransport(current.url, undefined)).unlock({
        passphrase: PASS,
      });
      client = new DaemonClient(new HttpTransport(current.url, t2.token));
      // Either the stop aborted the provisioning and queued it again (the restart runs it), or it
      // finished first and the stop kept it running (`--on-exit keep`, the next daemon adopts it).
      // Never stuck.
      const settled = await waitFor(
        client,
        id,
        (r) => r.state === 'running' || r.state === 'terminated',
        90_000,
      );
      const tos = (await client.events(id)).map((e) => e.to).filter(Boolean);
      if (settled.state === 'running') {
        const requeued = tos.includes('requested', 1);
        // Requeued: provisioned again after the restart. Kept: it was running before the stop.
        expect(tos.filter((t) => t === 'provisioning').length).toBe(requeued ? 2 : 1);
        await client.terminate(id);
      } else {
        expect(tos.at(-1)).toBe('terminated');
      }
      expect(await tracesOf(id, stateDir)).toEqual([]);
      expect(await stopGracefully(current)).toBe(0);
      current = undefined;
      expect(mountsUnder(stateDir)).toEqual([]);
    }, 180_000);

    it('graceful stop with --on-exit terminate: running environments are terminated and recorded, nothing is left', async () => {
      current = await startChildDaemon({ ...env(), VIRTOS_ON_EXIT: 'terminate' });
      const { token } = await new DaemonClient(new HttpTransport(current.url, undefined)).unlock({
        passphrase: PASS,
      });
      let client = new DaemonClient(new HttpTransport(current.url, token));
      const ids: string[] = [];
      for (const request of [TERMINAL, 'a debian desktop']) {
        const out = await client.create({ request }, { wait: true });
        const rec = (out as { record: EnvironmentRecord }).record;
        expect(rec.state).toBe('running');
        ids.push(rec.id);
      }
      expect(await stopGracefully(current)).toBe(0);
      current = undefined;
      for (const id of ids) expect(await tracesOf(id, stateDir)).toEqual([]);
      expect(mountsUnder(stateDir)).toEqual([]);
      current = await startChildDaemon(env());
      const t2 = await new DaemonClient(new HttpTransport(current.url, undefined)).unlock({
        passphrase: PASS,
      });
      client = new DaemonClient(new HttpTransport(current.url, t2.token));
      for (const id of ids) expect((await client.get(id)).state).toBe('terminated');
      expect(await stopGracefully(current)).toBe(0);
      current = undefined;
    }, 180_000);
  },
);

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
/** The stand-in upstream "on the internet" for allowlist environments (a host-only veth). */
const UPSTREAM = '198.18.252.1';

/** The host objects of an environment that `tracesOf` does not look at: veth, nft table, cgroup. */
async function kernelTraces(id: string): Promise<string[]> {
  const short = `virtos-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
  const found: string[] = [];
  if ((await run('ip', ['-o', 'link', 'show'])).stdout.includes(`${short}@`)) found.push('veth');
  if ((await run('nft', ['list', 'tables'])).stdout.includes(short)) found.push('nft table');
  for (const root of cgroupRoots()) {
    if (existsSync(join(root, CGROUP_PARENT, `virtos-${id}`))) found.push(`cgroup ${root}`);
  }
  return found;
}

/** Pids of an environment's processes (from tracesOf). */
async function pidsOf(id: string, stateDir: string): Promise<string[]> {
  return (await tracesOf(id, stateDir))
    .filter((t) => t.startsWith('process: '))
    .map((t) => t.slice('process: '.length))
    .sort();
}

describe.skipIf(skip !== undefined)(
  'environments outlive the daemon and are adopted (real runtime)',
  () => {
    let home: string;
    let stateDir: string;
    let current: ChildDaemon | undefined;
    let upstream: Server | undefined;
    const upstreamHosts: string[] = [];
    const veth = `virtos-up${randomBytes(2).toString('hex')}`;
    const env = (more: Record<string, string> = {}) => ({
      VIRTOS_HOME: home,
      VIRTOS_STATE_DIR: stateDir,
      VIRTOS_IMAGE_CACHE: IMAGE_CACHE,
      VIRTOS_TEST_UPSTREAM: UPSTREAM,
      ...more,
    });
    const start = (more: Record<string, string> = {}) =>
      startChildDaemon(env(more), 60_000, ['--import', 'tsx', join(here, 'daemon-child.ts')]);

    beforeAll(async () => {
      home = await mkdtemp(join(tmpdir(), 'virtos-srv-adopt-'));
      stateDir = testStateDir();
      await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`]);
      await run('ip', ['addr', 'add', `${UPSTREAM}/32`, 'dev', veth]);
      await run('ip', ['link', 'set', veth, 'up']);
      const server = createServer((req, res) => {
        upstreamHosts.push(req.headers.host ?? '');
        res.end('virtos-upstream-ok\n');
      });
      upstream = server;
      await new Promise<void>((r) => server.listen(80, UPSTREAM, r));
    });
    afterAll(async () => {
      if (current) await killNine(current);
      try {
        const d = await start({ VIRTOS_ON_EXIT: 'terminate' });
        const t = await new DaemonClient(new HttpTransport(d.url, undefined)).unlock({
          passphrase: PASS,
        });
        const c = new DaemonClient(new HttpTransport(d.url, t.token));
        for (const r of await c.list())
          if (r.state !== 'terminated') await c.terminate(r.id).catch(() => undefined);
        await stopGracefully(d);
      } catch {
        // nothing more to do
      }
      await new Promise((r) => upstream?.close(r));
      await run('ip', ['link', 'del', veth]).catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    }, 180_000);

    it('graceful stop and kill -9 leave terminal, desktop and allowlist environments running; the next daemon adopts them (exec, RFB, allowed site through the re-made proxy); rm leaves nothing', async () => {
      current = await start();
      const anon = new DaemonClient(new HttpTransport(current.url, undefined));
      let client = new DaemonClient(
        new HttpTransport(current.url, (await anon.initVault(PASS)).token),
      );
      // Three environments on a 2-CPU machine: each asks for half a CPU, so none waits in the queue.
      const small = async (request: string, extra: Partial<EnvironmentSpec> = {}) => {
        const composed = await client.compose(request);
        expect(composed.spec, request).not.toBeNull();
        const spec: EnvironmentSpec = {
          ...composed.spec!,
          ...extra,
          resources: { ...composed.spec!.resources, cpus: 0.5, memoryMiB: 512 },
        };
        const out = await client.create({ spec }, { wait: true });
        return (out as { record: EnvironmentRecord }).record;
      };
      const terminal = await small(TERMINAL);
      const desktop = await small('a debian desktop');
      const allow = await small(TERMINAL, {
        name: 'allowlisted',
        network: { mode: 'allowlist', allow: ['allowed.test'], peers: [] },
      });
      const all = [terminal, desktop, allow];
      for (const r of all) expect(r.state, `${r.id}: ${r.reason ?? ''}`).toBe('running');

      const exec = async (c: DaemonClient, id: string, script: string) => {
        let out = '';
        const code = await c.exec(
          id,
          { args: ['/bin/bash', '-c', script] },
          { stdout: (s) => (out += s), stderr: () => undefined },
        );
        return { code, out };
      };
      const httpGet = (host: string) =>
        `exec 3<>/dev/tcp/${host}/80 && printf 'GET / HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n' >&3 && timeout 5 cat <&3`;
      /** Every environment works: exec, the desktop's RFB handshake, the allowed site only. */
      const works = async (c: DaemonClient, round: string) => {
        expect(await exec(c, terminal.id, 'echo alive'), round).toEqual({
          code: 0,
          out: 'alive\n',
        });
        const rec = await c.get(desktop.id);
        const s = await RfbSession.connect(rec.display!.socketPath, AbortSignal.timeout(10_000));
        try {
          expect(s.init.width, round).toBe(1280);
        } finally {
          s.close();
        }
        const before = upstreamHosts.length;
        const ok = await exec(c, allow.id, httpGet('allowed.test'));
        expect(ok.out, round).toContain('virtos-upstream-ok');
        expect(upstreamHosts.slice(before), round).toEqual(['allowed.test']);
        const denied = await exec(c, allow.id, httpGet('denied.test'));
        expect(denied.out, round).not.toContain('virtos-upstream-ok');
      };
      await works(client, 'first daemon');
      const pids = new Map<string, string[]>();
      for (const r of all) {
        pids.set(r.id, await pidsOf(r.id, stateDir));
        expect(pids.get(r.id), r.id).not.toEqual([]);
      }

      // 1. Graceful stop (default: keep): the same processes run on without a daemon.
      expect(await stopGracefully(current)).toBe(0);
      current = undefined;
      for (const r of all) {
        // The same processes (a desktop may have started more meanwhile).
        expect(await pidsOf(r.id, stateDir), `${r.id} after a graceful stop`).toEqual(
          expect.arrayContaining(pids.get(r.id) ?? ['none']),
        );
      }
      current = await start();
      client = new DaemonClient(
        new HttpTransport(
          current.url,
          (
            await new DaemonClient(new HttpTransport(current.url, undefined)).unlock({
              passphrase: PASS,
            })
          ).token,
        ),
      );
      for (const r of all) expect((await client.get(r.id)).state).toBe('running');
      await works(client, 'after a graceful stop');

      // 2. kill -9 of the daemon: the same again.
      await killNine(current);
      current = undefined;
      for (const r of all) {
        expect(await pidsOf(r.id, stateDir), `${r.id} after kill -9`).toEqual(
          expect.arrayContaining(pids.get(r.id) ?? ['none']),
        );
      }
      current = await start();
      client = new DaemonClient(
        new HttpTransport(
          current.url,
          (
            await new DaemonClient(new HttpTransport(current.url, undefined)).unlock({
              passphrase: PASS,
            })
          ).token,
        ),
      );
      for (const r of all) expect((await client.get(r.id)).state).toBe('running');
      await works(client, 'after kill -9');
      // Suspended across a restart: adopted frozen, resumes.
      expect((await client.suspend(terminal.id)).state).toBe('suspended');

      // 3. rm: nothing is left (process, mount, netns, veth, nft table, cgroup, record).
      for (const r of all) {
        expect((await client.terminate(r.id)).state).toBe('terminated');
        expect(await tracesOf(r.id, stateDir), r.id).toEqual([]);
        expect(await kernelTraces(r.id), r.id).toEqual([]);
      }
      expect(await stopGracefully(current)).toBe(0);
      current = undefined;
      expect(mountsUnder(stateDir)).toEqual([]);
    }, 300_000);

    it('host mode (--registry host): records in a plain SQLite file; create, restart, still listed and running', async () => {
      const hostHome = await mkdtemp(join(tmpdir(), 'virtos-srv-hostmode-'));
      const hostState = testStateDir();
      const hostEnv = {
        VIRTOS_HOME: hostHome,
        VIRTOS_STATE_DIR: hostState,
        VIRTOS_IMAGE_CACHE: IMAGE_CACHE,
        VIRTOS_REGISTRY: 'host',
      };
      let d: ChildDaemon | undefined = await startChildDaemon(hostEnv);
      try {
        let c = new DaemonClient(
          new HttpTransport(
            d.url,
            (await new DaemonClient(new HttpTransport(d.url, undefined)).initVault(PASS)).token,
          ),
        );
        const rec = (
          (await c.create({ request: TERMINAL }, { wait: true })) as { record: EnvironmentRecord }
        ).record;
        expect(rec.state).toBe('running');
        expect(existsSync(join(hostHome, 'registry.sqlite'))).toBe(true);
        expect(await stopGracefully(d)).toBe(0);
        d = await startChildDaemon(hostEnv);
        c = new DaemonClient(
          new HttpTransport(
            d.url,
            (
              await new DaemonClient(new HttpTransport(d.url, undefined)).unlock({
                passphrase: PASS,
              })
            ).token,
          ),
        );
        const listed = await c.list();
        expect(listed.map((r) => [r.id, r.state])).toEqual([[rec.id, 'running']]);
        expect(readdirSync(hostHome)).toContain('registry.sqlite');
        await c.terminate(rec.id);
        expect(await tracesOf(rec.id, hostState)).toEqual([]);
        expect(await stopGracefully(d)).toBe(0);
        d = undefined;
      } finally {
        if (d) await killNine(d);
        await rm(hostState, { recursive: true, force: true }).catch(() => undefined);
        await rm(hostHome, { recursive: true, force: true });
      }
    }, 180_000);
  },
);
