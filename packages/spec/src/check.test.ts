import { describe, expect, it } from 'vitest';
import {
  CatalogIndex,
  checkCatalog,
  checkSpec,
  defaultCatalog,
  type EnvironmentSpec,
} from './index.js';

const index = new CatalogIndex();
const spec: EnvironmentSpec = {
  version: 1,
  name: 'x',
  base: { distro: 'debian', release: 'bookworm' },
  runtime: 'container',
  display: 'desktop',
  apps: [{ id: 'firefox', packages: ['firefox-esr'] }],
  network: { mode: 'internet', allow: [], peers: [] },
  resources: { cpus: 1, memoryMiB: 2048, diskMiB: 8192, gpus: 0 },
  persistence: 'ephemeral',
  security: {
    isolation: 'standard',
    capabilities: [],
    seccompProfile: 'default',
    readOnlyRoot: true,
  },
  lifetime: { ttlMinutes: null, idleSuspendMinutes: 30 },
  priority: 'normal',
};

describe('checkSpec', () => {
  it('finds nothing wrong with a sound spec', () => {
    expect(checkSpec(spec, index)).toEqual([]);
  });

  it('reports unknown apps, unknown releases, unavailable distros and display conflicts', () => {
    const kinds = (s: EnvironmentSpec) => checkSpec(s, index).map((f) => `${f.kind}:${f.code}`);
    expect(kinds({ ...spec, apps: [{ id: 'nosuchapp', packages: [] }] })).toEqual([
      'unsupported:app.unknown',
    ]);
    expect(kinds({ ...spec, base: { distro: 'debian', release: 'potato' } })).toEqual([
      'unsupported:release.unknown',
    ]);
    expect(kinds({ ...spec, base: { distro: 'fedora', release: '40' } })).toContain(
      'unavailable:distro.unavailable',
    );
    expect(kinds({ ...spec, display: 'terminal' })).toEqual(['conflict:app.needs_display']);
    expect(kinds({ ...spec, network: { mode: 'none', allow: [], peers: [] } })).toEqual([
      'assumption:app.offline',
    ]);
  });

  it('honours the availability the host reports', () => {
    const f = checkSpec(spec, index, () => ({ available: false, reason: 'the mirror is down' }));
    expect(f).toContainEqual(
      expect.objectContaining({
        kind: 'unavailable',
        message: expect.stringContaining('the mirror is down'),
      }),
    );
  });

  it('ships a consistent catalog', () => {
    expect(checkCatalog(defaultCatalog)).toEqual([]);
  });
});
