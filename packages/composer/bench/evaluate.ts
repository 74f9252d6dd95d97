/**
 * Scores the composer against the evaluation set (eval/requests.json, format in eval/README.md).
 * Shared by the benchmark (figures) and the unit test (a floor on accuracy).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EnvironmentSpec } from '@virtos/spec';
import type { ComposeResult, Composer } from '../src/index.js';

/** One case of the evaluation set. */
export interface EvalCase {
  readonly id: string;
  readonly category: string;
  readonly request: string;
  readonly base: EnvironmentSpec | null;
  readonly expect: Readonly<Record<string, unknown>>;
}

/** The outcome of one expected key. */
export interface KeyOutcome {
  readonly key: string;
  readonly ok: boolean;
  readonly expected: unknown;
  readonly actual: unknown;
}

/** The outcome of one case. */
export interface CaseOutcome {
  readonly case: EvalCase;
  readonly result: ComposeResult;
  readonly keys: readonly KeyOutcome[];
  readonly ok: boolean;
  /** Microseconds the compose call took. */
  readonly micros: number;
}

/** Loads the evaluation set. */
export function loadEvalSet(): EvalCase[] {
  const path = fileURLToPath(new URL('../eval/requests.json', import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as EvalCase[];
}

function get(obj: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined),
      obj,
    );
}

function sameSet(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** Checks one expected key against a result. */
export function checkKey(key: string, expected: unknown, r: ComposeResult): KeyOutcome {
  const spec = r.spec;
  const appIds = spec?.apps.map((a) => a.id) ?? [];
  let actual: unknown;
  let ok: boolean;
  switch (key) {
    case 'ok':
      actual = r.ok;
      ok = actual === expected;
      break;
    case 'intent':
      actual = r.intent;
      ok = actual === expected;
      break;
    case 'apps':
      actual = appIds;
      ok = spec !== null && sameSet(appIds, expected as unknown[]);
      break;
    case 'appsInclude':
      actual = appIds;
      ok = spec !== null && (expected as unknown[]).every((x) => appIds.includes(x as string));
      break;
    case 'appsCount':
      actual = appIds.length;
      ok = spec !== null && actual === expected;
      break;
    case 'network.allow': {
      const allow = spec?.network.allow ?? [];
      actual = allow;
      ok = spec !== null && (expected as string[]).every((d) => allow.includes(d));
      break;
    }
    case 'network.peers':
      actual = spec?.network.peers ?? [];
      ok = spec !== null && sameSet(actual as unknown[], expected as unknown[]);
      break;
    case 'findings': {
      const have = r.findings.map((f) => `${f.kind}:${f.field}`);
      actual = have;
      ok = (expected as string[]).every((want) =>
        want.includes(':') ? have.includes(want) : have.some((h) => h.startsWith(`${want}:`)),
      );
      break;
    }
    default:
      actual = get(spec, key);
      ok = spec !== null && actual === expected;
  }
  return { key, ok, expected, actual };
}

/** Runs every case. */
export function evaluate(composer: Composer, cases: readonly EvalCase[]): CaseOutcome[] {
  return cases.map((c) => {
    const t0 = process.hrtime.bigint();
    const result = composer.compose(c.request, c.base ? { base: c.base } : {});
    const micros = Number(process.hrtime.bigint() - t0) / 1000;
    const keys = Object.entries(c.expect).map(([k, v]) => checkKey(k, v, result));
    return { case: c, result, keys, ok: keys.every((k) => k.ok), micros };
  });
}
