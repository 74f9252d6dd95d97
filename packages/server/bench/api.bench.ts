/**
 * The daemon's figures for `npm run bench:api` (and the daemon's part of bench:orchestrator):
 * - API p50/p99 of `GET /api/environments` and `GET /api/environments/:id` under 50 concurrent
 *   clients, over real HTTP on 127.0.0.1, with the daemon in its own process (fake provisioner,
 *   vault-backed registry with 20 environments, 2 running and 18 queued) so clients and server do not share an event loop;
 * - request-to-running p50 of a headless environment and request-to-VNC-ready p50 of a desktop,
 *   with the real runtime (builtins.ts) and warm (cached) image layers. Needs root; skipped with the
 *   reason otherwise.
 * Prints figures; asserts nothing. Targets: API p50 <= 2 ms; desktop VNC-ready <= 300 ms p50.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { nullLogger } from '@virtos/core';
import { Orchestrator, type EnvironmentRecord } from '@virtos/orchestrator';
import { FakeProvisioner, applyCrunCgroupRemedy, probeRuntime } from '@virtos/runtime';
import {
  DaemonClient,
  HttpTransport,
  VaultRegistryStore,
  createBuiltins,
  createDaemon,
} from '../src/index.js';

const FAST_KDF = { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const;
const PASS = 'bench passphrase';

/** Latency and throughput of one load run. */
export interface LoadFigures {
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly perSecond: number;
}

/** Figures of {@link benchApi}. */
export interface ApiBenchResult {
  readonly clients: number;
  /** Open loop: each client sends every `paceMs`. */
  readonly paceMs: number;
  readonly list: LoadFigures;
  readonly get: LoadFigures;
  /** Closed loop (back to back): the saturation throughput and its queueing latency. */
  readonly listSaturated: LoadFigures;
  readonly getSaturated: LoadFigures;
  readonly headless?: {
    readonly runs: number;
    readonly p50Ms: number;
    readonly minMs: number;
    readonly maxMs: number;
  };
  readonly desktop?: {
    readonly runs: number;
    readonly p50Ms: number;
    readonly minMs: number;
    readonly maxMs: number;
  };
  readonly realRuntimeSkipped?: string;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const r2 = (n: number) => Math.round(n * 100) / 100;

/** The child: a daemon with the fake provisioner, printing `URL TOKEN ID` once ready. */
async function serveFake(): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), 'virtos-bench-api-'));
  const provisioner = new FakeProvisioner();
  const daemon = await createDaemon({
    home,
    port: 0,
    logger: nullLogger,
    kdf: FAST_KDF,
    allowWeakKdf: true,
    makeOrchestrator: (vault, logger) =>
      new Orchestrator({ store: new VaultRegistryStore(vault), provisioner, logger }),
  });
  const url = await daemon.listen();
  const { token } = await new DaemonClient(new HttpTransport(url, undefined)).initVault(PASS);
  const c = new DaemonClient(new HttpTransport(url, token));
  let id = '';
  for (let i = 0; i < 20; i++) {
    // This host fits two 1-CPU environments; the others wait in the queue, which is fine here.
    const out = await c.create({ request: `a debian shell with git number ${i}` });
    if (out.ok) id = out.record.id;
  }
  process.stdout.write(`${url} ${token} ${id}\n`);
  const stop = async () => {
    await daemon.close();
    await rm(home, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
}

/**
 * `clients` concurrent clients, `perClient` requests each. With `intervalMs`, each client sends at
 * that pace (open loop: latency is the service time); without, back to back (closed loop:
 * saturation, where latency is mostly queueing, clients / throughput).
 */
async function load(
  url: string,
  token: string,
  clients: number,
  perClient: number,
  intervalMs?: number,
): Promise<LoadFigures> {
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      // Spread the clients' start over one interval so they do not all fire at once.
      const start = t0 + (intervalMs ? (c * intervalMs) / clients : 0);
      for (let i = 0; i < perClient; i++) {
        if (intervalMs) {
          const wait = start + i * intervalMs - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const s = performance.now();
        const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${url}`);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return {
    requests: lat.length,
    p50Ms: r2(pct(lat, 50)),
    p99Ms: r2(pct(lat, 99)),
    perSecond: Math.round(lat.length / secs),
  };
}

async function apiUnderLoad(clients: number, perClient: number, paceMs: number) {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--serve-fake'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error('bench daemon did not start in 60 s')), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) {
          clearTimeout(t);
          resolve(out.trim());
        }
      });
      child.once('exit', (c) => reject(new Error(`bench daemon exited with ${c}`)));
    });
    const [url, token, id] = line.split(' ') as [string, string, string];
    // Warm-up (JIT, keep-alive connections), not measured.
    await load(`${url}/api/environments/${id}`, token, clients, 20);
    const list = await load(`${url}/api/environments`, token, clients, perClient / 2, paceMs);
    const get = await load(`${url}/api/environments/${id}`, token, clients, perClient / 2, paceMs);
    const listSaturated = await load(`${url}/api/environments`, token, clients, perClient);
    const getSaturated = await load(`${url}/api/environments/${id}`, token, clients, perClient);
    return { list, get, listSaturated, getSaturated };
  } finally {
    child.stdin!.end();
    child.kill('SIGTERM');
  }
}

async function realRuntime(runs: { headless: number; desktop: number }) {
  if (process.getuid?.() !== 0) return { skipped: 'needs root (namespaces, mounts, cgroups)' };
  await applyCrunCgroupRemedy().catch(() => []);
  if (
    (await probeRuntime('crun')).status !== 'ok' &&
    (await probeRuntime('runc')).status !== 'ok'
  ) {
    return { skipped: 'no usable OCI runtime' };
  }
  const home = await mkdtemp(join(tmpdir(), 'virtos-bench-rt-'));
  const stateDir = `/run/virtos-bench-${randomBytes(4).toString('hex')}`;
  const builtins = await createBuiltins({
    home,
    stateDir,
    imageCacheDir: process.env['VIRTOS_IMAGE_CACHE'] ?? '/var/cache/virtos-test/images',
    logger: nullLogger,
  });
  const daemon = await createDaemon({
    home,
    port: 0,
    logger: nullLogger,
    kdf: FAST_KDF,
    allowWeakKdf: true,
    makeOrchestrator: builtins.makeOrchestrator,
  });
  try {
    const url = await daemon.listen();
    const { token } = await new DaemonClient(new HttpTransport(url, undefined)).initVault(PASS);
    const c = new DaemonClient(new HttpTransport(url, token));
    const measure = async (request: string, n: number, needsDisplay: boolean) => {
      const times: number[] = [];
      // One unmeasured run makes sure every layer is in the cache (the "warm layer").
      for (let i = -1; i < n; i++) {
        const t0 = performance.now();
        const out = await c.create({ request }, { wait: true });
        const ms = performance.now() - t0;
        if (!out.ok) throw new Error(`"${request}" did not compose`);
        const rec: EnvironmentRecord = out.record;
        if (rec.state !== 'running')
          throw new Error(`${rec.id} ended ${rec.state}: ${rec.reason ?? ''}`);
        if (needsDisplay && !rec.display) throw new Error(`${rec.id} has no display`);
        if (i >= 0) times.push(ms);
        await c.terminate(rec.id);
      }
      times.sort((a, b) => a - b);
      return {
        runs: n,
        p50Ms: Math.round(pct(times, 50)),
        minMs: Math.round(times[0]!),
        maxMs: Math.round(times.at(-1)!),
      };
    };
    const headless = await measure('a debian shell with jq', runs.headless, false);
    const desktop = await measure('a debian desktop', runs.desktop, true);
    return { headless, desktop };
  } finally {
    for (const r of await new DaemonClient(new HttpTransport(daemon.url, undefined))
      .list()
      .catch(() => []))
      void r;
    await daemon.close();
    builtins.dispose();
    await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  }
}

/** Runs the daemon benchmarks (bounded: ~10,000 API requests per operation, a few environments). */
export async function benchApi(
  opts: {
    clients?: number;
    perClient?: number;
    paceMs?: number;
    headlessRuns?: number;
    desktopRuns?: number;
  } = {},
): Promise<ApiBenchResult> {
  const clients = opts.clients ?? 50;
  const paceMs = opts.paceMs ?? 100;
  const loads = await apiUnderLoad(clients, opts.perClient ?? 200, paceMs);
  const rt = await realRuntime({
    headless: opts.headlessRuns ?? 5,
    desktop: opts.desktopRuns ?? 5,
  });
  return {
    clients,
    paceMs,
    ...loads,
    ...('skipped' in rt
      ? { realRuntimeSkipped: rt.skipped }
      : { headless: rt.headless, desktop: rt.desktop }),
  };
}

/** Prints the figures of {@link benchApi}. */
export function printApiBench(r: ApiBenchResult): void {
  const line = (name: string, x: LoadFigures) =>
    `  ${name.padEnd(26)} p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms, ${x.perSecond} req/s (${x.requests} requests)`;
  console.log(
    `API over HTTP on 127.0.0.1, ${r.clients} concurrent clients, each one request every ${r.paceMs} ms (target p50 <= 2 ms):`,
  );
  console.log(line('GET /api/environments', r.list));
  console.log(line('GET /api/environments/:id', r.get));
  console.log(
    `Saturation: ${r.clients} clients back to back (latency = queueing at full throughput):`,
  );
  console.log(line('GET /api/environments', r.listSaturated));
  console.log(line('GET /api/environments/:id', r.getSaturated));
  if (r.realRuntimeSkipped) {
    console.log(`Real runtime: skipped (${r.realRuntimeSkipped})`);
    return;
  }
  console.log('Real runtime (builtins.ts), warm layers, POST /api/environments?wait=true:');
  if (r.headless)
    console.log(
      `  headless request-to-running  p50 ${r.headless.p50Ms} ms (min ${r.headless.minMs}, max ${r.headless.maxMs}, ${r.headless.runs} runs)`,
    );
  if (r.desktop)
    console.log(
      `  desktop request-to-VNC-ready p50 ${r.desktop.p50Ms} ms (min ${r.desktop.minMs}, max ${r.desktop.maxMs}, ${r.desktop.runs} runs; target <= 300 ms)`,
    );
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  if (process.argv.includes('--serve-fake')) {
    await serveFake();
  } else {
    printApiBench(await benchApi());
  }
}
