/**
 * Scheduler throughput: 10,000 queued requests drained over simulated hosts while environments end
 * and free capacity, then the same number through the whole Orchestrator (memory store, the
 * runtime's in-memory FakeProvisioner). Prints figures; asserts nothing. `benchScheduler()` is the
 * orchestrator's part of `npm run bench:orchestrator`; the daemon's figures live beside it.
 */
import { performance } from 'node:perf_hooks';
import { FakeProvisioner } from '@virtos/runtime';
import {
  MemoryRegistryStore,
  Orchestrator,
  PRIORITY_VALUES,
  Scheduler,
  sampleSpec,
  type HostInfo,
  type HostUsage,
  type ScheduleRequest,
} from '../src/index.js';

/** Figures of {@link benchScheduler}. */
export interface SchedulerBenchResult {
  readonly requests: number;
  readonly hosts: number;
  readonly passes: number;
  /** Placements per second of scheduler time (pure scheduler, drain with churn). */
  readonly placementsPerSecond: number;
  /** Per-decision latency within a pass, ms (the first decision of a pass includes its sort). */
  readonly decisionP50Ms: number;
  readonly decisionP99Ms: number;
  /** Whole passes over the queue, ms. */
  readonly passP50Ms: number;
  readonly passP99Ms: number;
  /** Requests from create to running through the Orchestrator (memory store, fake provisioner). */
  readonly orchestrator?: {
    readonly requests: number;
    readonly seconds: number;
    readonly perSecond: number;
  };
}

/** A deterministic pseudo-random source (mulberry32), so runs compare. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * Drains `requests` queued requests over `hosts` simulated hosts (mixed sizes and runtime classes):
 * each pass places what fits, then a third of the running environments end. Then, unless
 * `orchestratorRequests` is 0, pushes that many requests through a whole Orchestrator.
 */
export async function benchScheduler(
  options: { requests?: number; hosts?: number; orchestratorRequests?: number } = {},
): Promise<SchedulerBenchResult> {
  const n = options.requests ?? 10_000;
  const hostCount = options.hosts ?? 100;
  const random = rng(42);
  const hosts: HostInfo[] = Array.from({ length: hostCount }, (_, i) => ({
    id: `sim-${i}`,
    cpus: [16, 32, 64][i % 3] ?? 16,
    memoryMiB: [65_536, 131_072, 262_144][i % 3] ?? 65_536,
    gpus: i % 10 === 0 ? 4 : 0,
    runtimes: i % 4 === 0 ? ['container', 'microvm', 'vm'] : ['container', 'microvm'],
  }));
  const priorities = ['low', 'normal', 'high'] as const;
  let queue: ScheduleRequest[] = Array.from({ length: n }, (_, i) => ({
    id: `req-${i}`,
    cpus: [0.5, 1, 2, 4][Math.floor(random() * 4)] ?? 1,
    memoryMiB: [512, 1024, 2048, 4096, 8192][Math.floor(random() * 5)] ?? 1024,
    gpus: random() < 0.02 ? 1 : 0,
    runtime: random() < 0.05 ? 'vm' : random() < 0.3 ? 'microvm' : 'container',
    priority: PRIORITY_VALUES[priorities[Math.floor(random() * 3)] ?? 'normal'],
    queuedAt: i,
  }));
  const byId = new Map(queue.map((r) => [r.id, r]));
  // The simulated fleet holds roughly a quarter of the queue at once, so most requests wait.
  const scale = 0.25;
  const small = hosts.map((h) => ({
    ...h,
    cpus: Math.max(4, Math.round(h.cpus * scale * 4) / 4),
    memoryMiB: Math.max(8192, Math.round(h.memoryMiB * scale)),
  }));
  const scheduler = new Scheduler(small, { agingMs: 60_000 });
  const usage = new Map<string, HostUsage>();
  const running: { id: string; host: string }[] = [];
  const decisions: number[] = [];
  const passes: number[] = [];
  let schedulerMs = 0;
  let placed = 0;
  let now = n;
  let passCount = 0;
  while (queue.length > 0 && passCount < 10_000) {
    passCount += 1;
    const t0 = performance.now();
    let last = t0;
    const plan = scheduler.plan(queue, usage, now, () => {
      const t = performance.now();
      decisions.push(t - last);
      last = t;
    });
    const took = performance.now() - t0;
    schedulerMs += took;
    passes.push(took);
    placed += plan.placements.length;
    running.push(...plan.placements);
    const done = new Set([
      ...plan.placements.map((p) => p.id),
      ...plan.unschedulable.map((u) => u.id),
    ]);
    queue = queue.filter((r) => !done.has(r.id));
    // A third of the running environments end (oldest first), freeing their capacity.
    for (const end of running.splice(0, Math.ceil(running.length / 3))) {
      const r = byId.get(end.id);
      const u = usage.get(end.host);
      if (!r || !u) continue;
      u.cpus -= r.cpus;
      u.memoryMiB -= r.memoryMiB;
      u.gpus -= r.gpus;
    }
    now += 30_000;
  }
  decisions.sort((a, b) => a - b);
  passes.sort((a, b) => a - b);
  const result: SchedulerBenchResult = {
    requests: n,
    hosts: hostCount,
    passes: passCount,
    placementsPerSecond: placed / (schedulerMs / 1000),
    decisionP50Ms: percentile(decisions, 50),
    decisionP99Ms: percentile(decisions, 99),
    passP50Ms: percentile(passes, 50),
    passP99Ms: percentile(passes, 99),
  };
  const m = options.orchestratorRequests ?? n;
  if (m === 0) return result;
  return { ...result, orchestrator: await benchOrchestrator(m) };
}

/** `m` creates through a whole Orchestrator on one large simulated host, until all run. */
async function benchOrchestrator(
  m: number,
): Promise<{ requests: number; seconds: number; perSecond: number }> {
  const orch = new Orchestrator({
    store: new MemoryRegistryStore(),
    provisioner: new FakeProvisioner(),
    hosts: [
      {
        id: 'sim',
        cpus: m,
        memoryMiB: m * 512,
        gpus: 0,
        runtimes: ['container', 'microvm'],
      },
    ],
    reconcileIntervalMs: 3_600_000,
  });
  await orch.start();
  const spec = sampleSpec('bench');
  const t0 = performance.now();
  for (let i = 0; i < m; i++) {
    await orch.create({ spec: { ...spec, name: `bench-${i}` }, owner: `user${i % 50}` });
  }
  await orch.whenIdle();
  const seconds = (performance.now() - t0) / 1000;
  const running = orch.metrics().byState.running;
  await orch.shutdown();
  if (running !== m) throw new Error(`only ${running} of ${m} environments are running`);
  return { requests: m, seconds, perSecond: m / seconds };
}

function fmt(x: number, digits = 3): string {
  return x.toFixed(digits);
}

/** Prints the figures (used when run directly). */
export function printSchedulerBench(r: SchedulerBenchResult): void {
  console.log(
    `scheduler: ${r.requests} queued requests over ${r.hosts} simulated hosts, ${r.passes} passes`,
  );
  console.log(`  throughput ${Math.round(r.placementsPerSecond)} placements/s (scheduler time)`);
  console.log(
    `  decision latency p50 ${fmt(r.decisionP50Ms, 4)} ms, p99 ${fmt(r.decisionP99Ms, 4)} ms; ` +
      `pass p50 ${fmt(r.passP50Ms)} ms, p99 ${fmt(r.passP99Ms)} ms`,
  );
  if (r.orchestrator) {
    console.log(
      `orchestrator: ${r.orchestrator.requests} creates to running (memory store, FakeProvisioner) ` +
        `in ${fmt(r.orchestrator.seconds, 2)} s = ${Math.round(r.orchestrator.perSecond)} req/s`,
    );
  }
}

const isMain =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isMain) {
  const orchestratorRequests = Number(process.env.BENCH_ORCHESTRATOR_REQUESTS ?? 10_000);
  printSchedulerBench(await benchScheduler({ orchestratorRequests }));
}
