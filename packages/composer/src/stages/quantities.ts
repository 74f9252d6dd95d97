/**
 * Quantities in requests: CPUs, memory, disk, GPUs, durations; absolute ("8 GB of RAM") or
 * relative ("4 more GB", "double the memory"). Sizes are MiB; 1 GB is taken as 1 GiB, as people mean.
 */
import type { Tokens } from './phrases.js';

/** What a quantity is about. */
export type QuantityTarget = 'cpus' | 'memory' | 'disk' | 'gpus';

/** How a quantity applies: set it, add, subtract, or multiply. */
export type QuantityOp = 'set' | 'add' | 'sub' | 'mul';

/** A quantity found in the request. `value` is in MiB for memory/disk, a count otherwise. */
export interface Quantity {
  readonly target: QuantityTarget;
  readonly op: QuantityOp;
  readonly value: number;
  /** The words it came from. */
  readonly phrase: string;
  /** True when the target was guessed from the size alone ("16 GB" with no word saying which). */
  readonly guessed: boolean;
}

/** A duration found in the request, in minutes, with what it is for. */
export interface Duration {
  readonly kind: 'ttl' | 'idle';
  readonly minutes: number | null;
  readonly phrase: string;
}

const NUMBER_WORDS: Record<string, number> = {
  zero: 0,
  a: 1,
  an: 1,
  one: 1,
  single: 1,
  two: 2,
  couple: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  sixteen: 16,
  twenty: 20,
  'twenty-four': 24,
  thirty: 30,
  'thirty-two': 32,
  forty: 40,
  fifty: 50,
  sixty: 60,
  'sixty-four': 64,
  hundred: 100,
  half: 0.5,
  dual: 2,
  quad: 4,
  octa: 8,
};

const SIZE_UNITS: Record<string, number> = {
  kb: 1 / 1024,
  kib: 1 / 1024,
  k: 1 / 1024,
  mb: 1,
  mib: 1,
  m: 1,
  meg: 1,
  megs: 1,
  megabyte: 1,
  megabytes: 1,
  mebibytes: 1,
  gb: 1024,
  gib: 1024,
  g: 1024,
  gig: 1024,
  gigs: 1024,
  gigabyte: 1024,
  gigabytes: 1024,
  gibibytes: 1024,
  tb: 1024 * 1024,
  tib: 1024 * 1024,
  t: 1024 * 1024,
  terabyte: 1024 * 1024,
  terabytes: 1024 * 1024,
};

const MEMORY_WORDS = new Set(['ram', 'memory', 'mem', 'ram.', 'memory.']);
const DISK_WORDS = new Set([
  'disk',
  'disks',
  'storage',
  'space',
  'ssd',
  'hdd',
  'drive',
  'disk space',
  'hard',
  'volume',
  'home',
]);
const CPU_WORDS = new Set([
  'cpu',
  'cpus',
  'core',
  'cores',
  'vcpu',
  'vcpus',
  'processor',
  'processors',
  'threads',
  'thread',
  'cpu-cores',
  'vcores',
]);
const GPU_WORDS = new Set(['gpu', 'gpus', 'graphics']);
const FILLER = new Set([
  'of',
  'the',
  'more',
  'extra',
  'additional',
  'fast',
  'system',
  'free',
  'total',
  'in',
  'for',
  'worth',
  'virtual',
  'physical',
  'nvme',
  'usable',
  'available',
  'dedicated',
]);
const MORE_WORDS = new Set(['more', 'extra', 'additional', 'another']);
const LESS_WORDS = new Set(['less', 'fewer']);
const DURATION_UNITS: Record<string, number> = {
  min: 1,
  mins: 1,
  minute: 1,
  minutes: 1,
  m: 1,
  h: 60,
  hr: 60,
  hrs: 60,
  hour: 60,
  hours: 60,
  d: 1440,
  day: 1440,
  days: 1440,
  w: 10080,
  week: 10080,
  weeks: 10080,
  month: 43200,
  months: 43200,
};

/** Parses a number token: digits, decimal, or a number word. */
export function parseNumber(token: string): number | undefined {
  if (/^-?\d+(\.\d+)?$/.test(token)) return Number(token);
  return NUMBER_WORDS[token];
}

/** Splits a token like '8gb' or '512mib' into number and unit. */
function splitNumberUnit(token: string): { n: number; unit: string } | undefined {
  const m = /^(-?\d+(?:\.\d+)?)([a-z]+)$/.exec(token);
  if (!m) return undefined;
  return { n: Number(m[1]), unit: m[2] as string };
}

/** Finds the word after position `i` (skipping fillers), up to `span` tokens. */
function nextWord(tokens: Tokens, i: number, set: ReadonlySet<string>, span = 3): number {
  for (let k = i; k < i + span; k++) {
    const t = tokens.at(k);
    if (set.has(t)) return k;
    if (!FILLER.has(t)) return -1;
  }
  return -1;
}

/** Finds `set` in the few tokens before `i` ("ram: 8gb", "memory to 8 GB"). */
function prevWord(tokens: Tokens, i: number, set: ReadonlySet<string>, span = 4): number {
  for (let k = i - 1; k >= Math.max(0, i - span); k--) {
    if (set.has(tokens.at(k))) return k;
  }
  return -1;
}

function opAround(tokens: Tokens, start: number, end: number): QuantityOp {
  const before = [tokens.at(start - 1), tokens.at(start - 2), tokens.at(start - 3)];
  const after = [tokens.at(end), tokens.at(end + 1)];
  const inner = tokens.list.slice(start, end);
  if (before[0]?.startsWith('+')) return 'add';
  if ([...after, ...inner].some((t) => MORE_WORDS.has(t))) return 'add';
  if ([...after, ...inner].some((t) => LESS_WORDS.has(t))) return 'sub';
  if (before.includes('add') || before.includes('another') || before.includes('extra'))
    return 'add';
  if (
    before[0] === 'by' &&
    before.some((t) => t === 'increase' || t === 'grow' || t === 'raise' || t === 'bump')
  )
    return 'add';
  if (
    before[0] === 'by' &&
    before.some(
      (t) => t === 'decrease' || t === 'reduce' || t === 'shrink' || t === 'lower' || t === 'cut',
    )
  )
    return 'sub';
  return 'set';
}

/** Extracts resource quantities. */
export function extractQuantities(tokens: Tokens): Quantity[] {
  const out: Quantity[] = [];
  const list = tokens.list;
  const used = new Set<number>();
  for (let i = 0; i < list.length; i++) {
    if (used.has(i)) continue;
    const tok = list[i] as string;
    let n: number | undefined;
    let unit: string | undefined;
    let end = i + 1;
    const joined = splitNumberUnit(tok.replace(/^\+/, ''));
    if (
      joined &&
      (SIZE_UNITS[joined.unit] !== undefined ||
        CPU_WORDS.has(joined.unit) ||
        GPU_WORDS.has(joined.unit))
    ) {
      n = joined.n;
      unit = joined.unit;
    } else {
      n = parseNumber(tok.replace(/^\+/, ''));
      if (n === undefined) {
        // 'quad-core', 'dual-core', 'single-core', 'octa-core'
        const m = /^(quad|dual|single|octa|hexa)-core$/.exec(tok);
        if (m) {
          const count = { quad: 4, dual: 2, single: 1, octa: 8, hexa: 6 }[m[1] as 'quad'];
          out.push({ target: 'cpus', op: 'set', value: count, phrase: tok, guessed: false });
        }
        continue;
      }
      if (tok === 'half' && list[i + 1] === 'a') end = i + 2;
      if (MORE_WORDS.has(list[end] ?? '') || LESS_WORDS.has(list[end] ?? '')) {
        const w = list[end + 1] ?? '';
        if (SIZE_UNITS[w] !== undefined || CPU_WORDS.has(w) || GPU_WORDS.has(w)) end += 1;
      }
      const u = list[end];
      if (
        u !== undefined &&
        (SIZE_UNITS[u] !== undefined || CPU_WORDS.has(u) || GPU_WORDS.has(u))
      ) {
        unit = u;
        end += 1;
      }
      // "a" / "an" count as one only directly before a unit word ("a gpu", "an extra core").
      if ((tok === 'a' || tok === 'an') && unit === undefined) {
        if (MORE_WORDS.has(list[i + 1] ?? '') && CPU_WORDS.has(list[i + 2] ?? '')) {
          unit = list[i + 2];
          end = i + 3;
        } else continue;
      }
    }
    if (unit === undefined) {
      // A bare number next to a resource word: "ram 8", "8 ram", "4 more cpus".
      const after = nextWord(tokens, end, new Set([...MEMORY_WORDS, ...CPU_WORDS, ...GPU_WORDS]));
      if (after >= 0) {
        const w = list[after] as string;
        const target: QuantityTarget = CPU_WORDS.has(w)
          ? 'cpus'
          : GPU_WORDS.has(w)
            ? 'gpus'
            : 'memory';
        const value = target === 'memory' ? (n as number) * 1024 : (n as number);
        out.push({
          target,
          op: opAround(tokens, i, after + 1),
          value,
          phrase: tokens.slice(i, after + 1),
          guessed: false,
        });
        for (let k = i; k <= after; k++) used.add(k);
      }
      continue;
    }
    if (CPU_WORDS.has(unit) || GPU_WORDS.has(unit)) {
      out.push({
        target: CPU_WORDS.has(unit) ? 'cpus' : 'gpus',
        op: opAround(tokens, i, end),
        value: n as number,
        phrase: tokens.slice(i, end),
        guessed: false,
      });
      for (let k = i; k < end; k++) used.add(k);
      continue;
    }
    const mib = (n as number) * (SIZE_UNITS[unit] as number);
    // Which resource: a word after ("8 GB of RAM"), or before ("RAM: 8 GB", "disk to 50 GB").
    let target: QuantityTarget | undefined;
    let last = end;
    const afterMem = nextWord(tokens, end, MEMORY_WORDS);
    const afterDisk = nextWord(tokens, end, DISK_WORDS);
    if (afterMem >= 0) {
      target = 'memory';
      last = afterMem + 1;
    } else if (afterDisk >= 0) {
      target = 'disk';
      last = afterDisk + 1;
    } else {
      const pm = prevWord(tokens, i, MEMORY_WORDS);
      const pd = prevWord(tokens, i, DISK_WORDS);
      if (pm >= 0 && pm >= pd) target = 'memory';
      else if (pd >= 0) target = 'disk';
    }
    const guessed = target === undefined;
    target ??= mib > 64 * 1024 ? 'disk' : 'memory';
    out.push({
      target,
      op: opAround(tokens, i, last),
      value: Math.round(mib),
      phrase: tokens.slice(i, last),
      guessed,
    });
    for (let k = i; k < last; k++) used.add(k);
  }
  // "double the memory", "twice the cpus", "halve the ram"
  for (let i = 0; i < list.length; i++) {
    const t = list[i] as string;
    const factor =
      t === 'double' || t === 'twice'
        ? 2
        : t === 'triple'
          ? 3
          : t === 'halve' || t === 'half'
            ? 0.5
            : undefined;
    if (factor === undefined || used.has(i)) continue;
    for (let k = i + 1; k <= i + 3; k++) {
      const w = list[k] ?? '';
      const target: QuantityTarget | undefined = MEMORY_WORDS.has(w)
        ? 'memory'
        : DISK_WORDS.has(w)
          ? 'disk'
          : CPU_WORDS.has(w)
            ? 'cpus'
            : undefined;
      if (target) {
        out.push({
          target,
          op: 'mul',
          value: factor,
          phrase: tokens.slice(i, k + 1),
          guessed: false,
        });
        break;
      }
    }
  }
  return out;
}

/** Extracts the time-to-live and the idle-suspend time. */
export function extractDurations(tokens: Tokens): Duration[] {
  const out: Duration[] = [];
  const list = tokens.list;
  for (let i = 0; i < list.length; i++) {
    let n = parseNumber(list[i] as string);
    let unit = list[i + 1];
    let end = i + 2;
    const joined = /^(\d+)(min|mins|h|hr|hrs|d|w)$/.exec(list[i] as string);
    if (joined) {
      n = Number(joined[1]);
      unit = joined[2];
      end = i + 1;
    }
    // "20 idle minutes"
    if (
      n !== undefined &&
      (unit === 'idle' || unit === 'inactive') &&
      DURATION_UNITS[list[i + 2] ?? ''] !== undefined
    ) {
      out.push({
        kind: 'idle',
        minutes: Math.round(n * (DURATION_UNITS[list[i + 2] as string] as number)),
        phrase: tokens.slice(i, i + 3),
      });
      continue;
    }
    if (n === undefined || unit === undefined || DURATION_UNITS[unit] === undefined) continue;
    if ((list[i] === 'a' || list[i] === 'an') && !joined) n = 1;
    if (list[i] === 'half' && list[i + 1] === 'an') {
      n = 0.5;
      unit = list[i + 2];
      end = i + 3;
      if (unit === undefined || DURATION_UNITS[unit] === undefined) continue;
    }
    const minutes = Math.round(n * (DURATION_UNITS[unit] as number));
    let from = i;
    while (
      from > Math.max(0, i - 6) &&
      !['and', 'but', 'then', 'also', 'with', 'plus'].includes(tokens.at(from - 1))
    )
      from--;
    const before = tokens.slice(from, i);
    const after = tokens.slice(end, end + 3);
    const isIdle =
      /\b(idle|inactiv|inactive|unused|no activity|not used|suspend|suspends|suspended|pause|hibernate|sleep)/.test(
        before,
      ) || /^(of )?(idle|inactivity|idling|no activity|without activity|unused)/.test(after);
    if (isIdle) {
      out.push({ kind: 'idle', minutes, phrase: tokens.slice(Math.max(0, i - 3), end) });
      continue;
    }
    const ttl =
      /\b(for|after|in|within|lasts?|last for|ttl|expires?|expiring|delete|destroy|remove|terminate|kill|self-destruct|keep it|keep for|only|next|until|lifetime)\b/.test(
        before,
      );
    const ttlAfter =
      /^(lifetime|life|ttl|max|maximum|limit|time limit|session|only|long|at most|tops)\b/.test(
        after,
      );
    if (ttl || ttlAfter)
      out.push({ kind: 'ttl', minutes, phrase: tokens.slice(Math.max(0, i - 2), end) });
  }
  const text = ` ${tokens.slice(0, list.length)} `;
  if (
    / (never suspend|no idle suspend|don't suspend|dont suspend|do not suspend|always on|keep it running|never pause) /.test(
      text,
    )
  ) {
    out.push({ kind: 'idle', minutes: null, phrase: 'never suspend' });
  }
  if (
    / (no expiry|never expires?|no ttl|keep it forever|forever|indefinitely|no time limit) /.test(
      text,
    )
  ) {
    out.push({ kind: 'ttl', minutes: null, phrase: 'no time limit' });
  }
  return out;
}
