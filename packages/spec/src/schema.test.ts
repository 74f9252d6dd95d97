import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DISPLAYS,
  DISTROS,
  GRANTABLE_CAPABILITIES,
  ISOLATION_LEVELS,
  MAX_SPEC_BYTES,
  PERSISTENCE_MODES,
  PRIORITIES,
  RUNTIME_CLASSES,
  SECCOMP_PROFILES,
  SPEC_LIMITS,
  migrateSpec,
  parseSpec,
  parseSpecJson,
  specJsonSchema,
  type EnvironmentSpec,
} from './index.js';

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
const domain = fc
  .tuple(label, fc.constantFrom('org', 'com', 'io', 'de'))
  .map(([a, b]) => `${a}.${b}`);

/** Any valid spec. */
const specArb: fc.Arbitrary<EnvironmentSpec> = fc
  .record({
    name: label,
    distro: fc.constantFrom(...DISTROS),
    release: fc.stringMatching(/^[a-z0-9][a-z0-9.]{0,8}$/),
    runtime: fc.constantFrom(...RUNTIME_CLASSES),
    display: fc.constantFrom(...DISPLAYS),
    apps: fc.uniqueArray(fc.record({ id: label, packages: fc.array(label, { maxLength: 3 }) }), {
      selector: (a) => a.id,
      maxLength: 5,
    }),
    mode: fc.constantFrom('none', 'allowlist', 'internet', 'tor' as const),
    allow: fc.uniqueArray(domain, { minLength: 1, maxLength: 4 }),
    peers: fc.uniqueArray(label, { maxLength: 3 }),
    cpus: fc.integer({ min: 1, max: SPEC_LIMITS.maxCpus }),
    memoryMiB: fc.integer({ min: SPEC_LIMITS.minMemoryMiB, max: SPEC_LIMITS.maxMemoryMiB }),
    diskMiB: fc.integer({ min: SPEC_LIMITS.minDiskMiB, max: SPEC_LIMITS.maxDiskMiB }),
    gpus: fc.integer({ min: 0, max: SPEC_LIMITS.maxGpus }),
    persistence: fc.constantFrom(...PERSISTENCE_MODES),
    isolation: fc.constantFrom(...ISOLATION_LEVELS),
    capabilities: fc.uniqueArray(fc.constantFrom(...GRANTABLE_CAPABILITIES), { maxLength: 3 }),
    seccomp: fc.constantFrom(...SECCOMP_PROFILES),
    readOnlyRoot: fc.boolean(),
    ttl: fc.option(fc.integer({ min: 1, max: SPEC_LIMITS.maxTtlMinutes })),
    idle: fc.option(fc.integer({ min: 1, max: 1440 })),
    priority: fc.constantFrom(...PRIORITIES),
  })
  .map((r) => ({
    version: 1 as const,
    name: r.name,
    base: { distro: r.distro, release: r.release },
    runtime: r.runtime,
    display: r.display,
    apps: r.apps,
    network: { mode: r.mode, allow: r.mode === 'allowlist' ? r.allow : [], peers: r.peers },
    resources: { cpus: r.cpus, memoryMiB: r.memoryMiB, diskMiB: r.diskMiB, gpus: r.gpus },
    persistence: r.persistence,
    security: {
      isolation: r.isolation,
      capabilities: r.capabilities,
      seccompProfile: r.seccomp,
      readOnlyRoot: r.readOnlyRoot,
    },
    lifetime: { ttlMinutes: r.ttl, idleSuspendMinutes: r.idle },
    priority: r.priority,
  }));

const ajv = new Ajv2020({ strict: false });
const validateJsonSchema = ajv.compile(specJsonSchema());

describe('spec schema', () => {
  it('accepts every generated spec, which also validates against the JSON Schema and round-trips', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const parsed = parseSpec(spec);
        expect(parsed.ok).toBe(true);
        expect(validateJsonSchema(spec)).toBe(true);
        const again = parseSpecJson(JSON.stringify(spec));
        expect(again.ok && again.value).toEqual(spec);
      }),
      { numRuns: 400 },
    );
  });

  it('agrees with the JSON Schema on mutated specs (no spec the schema rejects is accepted)', () => {
    const mutations: ((s: Record<string, unknown>) => void)[] = [
      (s) => ((s['runtime'] as unknown) = 'docker'),
      (s) => ((s['base'] as Record<string, unknown>)['distro'] = 'Debian'),
      (s) => ((s['resources'] as Record<string, unknown>)['memoryMiB'] = 1.5),
      (s) => ((s['resources'] as Record<string, unknown>)['cpus'] = -1),
      (s) => (s['extra'] = true),
      (s) => delete s['priority'],
      (s) => ((s['network'] as Record<string, unknown>)['allow'] = ['NOT A DOMAIN']),
      (s) => (s['apps'] as unknown[]).push({ id: 'Bad Id', packages: [] }),
    ];
    fc.assert(
      fc.property(specArb, fc.constantFrom(...mutations), (spec, mutate) => {
        const copy = structuredClone(spec) as unknown as Record<string, unknown>;
        mutate(copy);
        expect(parseSpec(copy).ok).toBe(false);
        expect(validateJsonSchema(copy)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('enforces cross-field rules with coded errors naming the field', () => {
    const spec = fc.sample(specArb, 1)[0] as EnvironmentSpec;
    const bad = { ...spec, network: { mode: 'none', allow: ['example.com'], peers: [] } };
    const r = parseSpec(bad);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('spec.invalid');
      expect(r.error.subject).toBe('network.allow');
      expect(r.error.hint).toMatch(/environment-spec/);
    }
  });

  it('refuses non-JSON, oversized and future-version input clearly', () => {
    const notJson = parseSpecJson('{ nope');
    expect(!notJson.ok && notJson.error.code).toBe('spec.not_json');
    const big = parseSpecJson(' '.repeat(MAX_SPEC_BYTES + 1));
    expect(!big.ok && big.error.code).toBe('spec.too_large');
    const future = parseSpec({ version: 99 });
    expect(!future.ok && future.error.code).toBe('spec.unknown_version');
    expect(!future.ok && future.error.hint).toMatch(/update VirtOS/);
  });

  it('migrates step by step', () => {
    const migrations = [
      {
        from: 1,
        summary: 'rename title to name',
        migrate: (s: Record<string, unknown>) => ({ ...s, name: s['title'] }),
      },
    ];
    const r = migrateSpec({ version: 1, title: 'x' }, migrations, 2);
    expect(r.ok && r.value).toEqual({ version: 2, title: 'x', name: 'x' });
    expect(migrateSpec({ version: 1 }, [], 2).ok).toBe(false);
  });

  it('has an up-to-date JSON Schema in docs/ (npm run gen)', () => {
    const path = fileURLToPath(
      new URL('../../../docs/environment-spec.schema.json', import.meta.url),
    );
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(specJsonSchema());
  });
});
