/**
 * The scheduler: which queued request goes to which host, in which order. Pure and synchronous (no
 * store, no clock of its own), so the orchestrator, the bench and tests drive it directly.
 *
 * Order: effective priority, highest first, then oldest first. Effective priority is the integer
 * priority plus one for every `agingMs` spent waiting, so a low-priority request waiting long enough
 * overtakes fresh high-priority ones (no starvation).
 *
 * Blocking: when a request cannot be placed now, the hosts it could use are reserved for it for the
 * rest of the pass; requests behind it may only use other hosts. Smaller requests therefore never
 * keep slipping past a large one on the host it waits for.
 */
import type { HostInfo } from './types.js';

/** The integer priorities of the spec's named priorities. */
export const PRIORITY_VALUES = { low: 0, normal: 1, high: 2 } as const;

/** Default ageing step: one priority level per 5 minutes of waiting (ms). */
export const DEFAULT_AGING_MS = 5 * 60_000;

/** What the scheduler needs to know about a queued request. */
export interface ScheduleRequest {
  readonly id: string;
  /** CPU cores. */
  readonly cpus: number;
  /** MiB. */
  readonly memoryMiB: number;
  readonly gpus: number;
  readonly runtime: 'container' | 'microvm' | 'vm';
  /** Integer priority ({@link PRIORITY_VALUES}). */
  readonly priority: number;
  /** Epoch ms when it entered the queue. */
  readonly queuedAt: number;
}

/** Resources in use on a host. */
export interface HostUsage {
  cpus: number;
  memoryMiB: number;
  gpus: number;
}

/** The outcome of one scheduling pass. */
export interface SchedulePlan {
  /** Requests placed now, in placement order. */
  readonly placements: { readonly id: string; readonly host: string }[];
  /** Requests that stay queued (capacity short now). */
  readonly waiting: string[];
  /** Requests no host could ever run, with why. */
  readonly unschedulable: { readonly id: string; readonly reason: string }[];
}

/** Places requests on hosts. */
export class Scheduler {
  private readonly agingMs: number;

  constructor(
    private readonly hosts: readonly HostInfo[],
    options: { readonly agingMs?: number } = {},
  ) {
    this.agingMs = Math.max(1, options.agingMs ?? DEFAULT_AGING_MS);
  }

  /** The hosts it places on. */
  get hostList(): readonly HostInfo[] {
    return this.hosts;
  }

  /** Priority plus one level per `agingMs` waited. */
  effectivePriority(req: ScheduleRequest, now: number): number {
    return req.priority + Math.floor(Math.max(0, now - req.queuedAt) / this.agingMs);
  }

  /** Sorts a queue into placement order (a new array). */
  order(queue: readonly ScheduleRequest[], now: number): ScheduleRequest[] {
    return queue
      .map((r) => ({ r, p: this.effectivePriority(r, now) }))
      .sort(
        (a, b) =>
          b.p - a.p ||
          a.r.queuedAt - b.r.queuedAt ||
          (a.r.id < b.r.id ? -1 : a.r.id > b.r.id ? 1 : 0),
      )
      .map((x) => x.r);
  }

  /** Why no host could ever run `req` (even empty), or undefined when some host could. */
  neverFits(req: ScheduleRequest): string | undefined {
    // Hot path of every pass: no allocation, and the first host that could run it ends the loop.
    let biggest: HostInfo | undefined;
    for (const h of this.hosts) {
      if (!h.runtimes.includes(req.runtime)) continue;
      if (couldEverRun(h, req)) return undefined;
      if (!biggest || h.memoryMiB > biggest.memoryMiB) biggest = h;
    }
    if (!biggest) return `no host serves the '${req.runtime}' runtime class`;
    return (
      `it needs ${req.cpus} CPUs, ${req.memoryMiB} MiB and ${req.gpus} GPUs; the largest ` +
      `host (${biggest.id}) has ${biggest.cpus} CPUs, ${biggest.memoryMiB} MiB and ${biggest.gpus} GPUs`
    );
  }

  /**
   * Picks the host for one request given `usage` (host id -> in use), skipping `reserved` hosts:
   * among hosts that serve the runtime class and have room, the one left with the most free share
   * of CPU and memory (spreading load). Undefined when none has room.
   */
  pick(
    req: ScheduleRequest,
    usage: ReadonlyMap<string, HostUsage>,
    reserved?: ReadonlySet<string>,
  ): HostInfo | undefined {
    let best: HostInfo | undefined;
    let bestScore = -Infinity;
    for (const h of this.hosts) {
      if (reserved?.has(h.id) || !h.runtimes.includes(req.runtime)) continue;
      const u = usage.get(h.id) ?? ZERO;
      const freeCpu = h.cpus - u.cpus - req.cpus;
      const freeMem = h.memoryMiB - u.memoryMiB - req.memoryMiB;
      const freeGpu = h.gpus - u.gpus - req.gpus;
      if (freeCpu < -1e-9 || freeMem < 0 || freeGpu < 0) continue;
      const score = Math.min(freeCpu / h.cpus, freeMem / h.memoryMiB);
      if (score > bestScore) {
        best = h;
        bestScore = score;
      }
    }
    return best;
  }

  /**
   * One pass over the queue: places what fits, in order, and updates `usage` in place. A request
   * that cannot be placed reserves the hosts it could use for the rest of the pass. `onDecision`
   * is called after each request's decision (for measurements).
   */
  plan(
    queue: readonly ScheduleRequest[],
    usage: Map<string, HostUsage>,
    now: number,
    onDecision?: (id: string, host: string | undefined) => void,
  ): SchedulePlan {
    const placements: { id: string; host: string }[] = [];
    const waiting: string[] = [];
    const unschedulable: { id: string; reason: string }[] = [];
    const reserved = new Set<string>();
    for (const req of this.order(queue, now)) {
      const never = this.neverFits(req);
      if (never) {
        unschedulable.push({ id: req.id, reason: never });
        onDecision?.(req.id, undefined);
        continue;
      }
      const host =
        reserved.size === this.hosts.length ? undefined : this.pick(req, usage, reserved);
      if (!host) {
        waiting.push(req.id);
        for (const h of this.hosts) if (couldEverRun(h, req)) reserved.add(h.id);
        onDecision?.(req.id, undefined);
        continue;
      }
      const u = usage.get(host.id) ?? { cpus: 0, memoryMiB: 0, gpus: 0 };
      u.cpus += req.cpus;
      u.memoryMiB += req.memoryMiB;
      u.gpus += req.gpus;
      usage.set(host.id, u);
      placements.push({ id: req.id, host: host.id });
      onDecision?.(req.id, host.id);
    }
    return { placements, waiting, unschedulable };
  }
}

/** True when the empty host serves the class and is large enough. */
function couldEverRun(h: HostInfo, req: ScheduleRequest): boolean {
  return (
    h.runtimes.includes(req.runtime) &&
    req.cpus <= h.cpus &&
    req.memoryMiB <= h.memoryMiB &&
    req.gpus <= h.gpus
  );
}

const ZERO: HostUsage = { cpus: 0, memoryMiB: 0, gpus: 0 };
