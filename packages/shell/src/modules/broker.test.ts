import { describe, expect, it } from 'vitest';
import { CAPABILITIES, METHOD_CAPABILITY, type Capability } from '@virtos/module-sdk';
import { ModuleBroker, type BrokerDecision } from './broker.js';
import type { DaemonTransport } from './daemon-transport.js';
import { validateManifest } from './manifest.js';

/** Records what would have gone to the daemon. */
function fakeTransport(): DaemonTransport & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async json<T>(method: string, path: string, body?: unknown) {
      calls.push(`${method} ${path}${body === undefined ? '' : ` ${JSON.stringify(body)}`}`);
      return { value: 'v' } as T;
    },
    async bytes(path: string) {
      calls.push(`BYTES ${path}`);
      return new ArrayBuffer(2);
    },
    async upload<T>(path: string, data: ArrayBuffer) {
      calls.push(`UPLOAD ${path} ${data.byteLength}`);
      return {} as T;
    },
  };
}

function broker(grants: Capability[]) {
  const t = fakeTransport();
  const decisions: BrokerDecision[] = [];
  const b = new ModuleBroker({
    moduleId: 'notes',
    grants,
    transport: t,
    onDecision: (d) => decisions.push(d),
    hooks: { download: () => undefined },
  });
  return { b, t, decisions };
}

describe('broker capability checks', () => {
  it('forwards granted calls and refuses others before they reach the daemon', async () => {
    const { b, t, decisions } = broker(['notes:read']);
    await b.handle('notes.list', {});
    expect(t.calls).toEqual(['GET /api/notes']);
    await expect(b.handle('notes.create', { title: 'x' })).rejects.toMatchObject({
      code: 'module.capability_denied',
    });
    await expect(b.handle('files.list', {})).rejects.toMatchObject({
      code: 'module.capability_denied',
    });
    expect(t.calls).toEqual(['GET /api/notes']);
    expect(decisions.map((d) => `${d.method}:${d.allowed}`)).toEqual([
      'notes.list:true',
      'notes.create:false',
      'files.list:false',
    ]);
  });

  it('checks every method in the table against every single grant', async () => {
    for (const cap of CAPABILITIES) {
      const { b } = broker([cap]);
      for (const [method, needed] of Object.entries(METHOD_CAPABILITY)) {
        expect(b.isAllowed(method), `${method} with ${cap}`).toBe(
          needed === null || needed === cap,
        );
      }
    }
  });

  it('refuses unknown methods, including prototype names', async () => {
    const { b, t } = broker([...CAPABILITIES]);
    for (const m of ['fetch', 'toString', '__proto__', 'constructor', 'notes.list2']) {
      await expect(b.handle(m, {})).rejects.toMatchObject({ code: 'module.unknown_method' });
    }
    expect(t.calls).toEqual([]);
  });

  it('validates parameters and encodes path segments', async () => {
    const { b, t } = broker(['notes:read', 'notes:write', 'files:write', 'search']);
    await expect(b.handle('notes.get', { id: '../../session' })).rejects.toMatchObject({
      code: 'module.bad_params',
    });
    await expect(b.handle('notes.create', { title: 'a', extra: 1 })).rejects.toMatchObject({
      code: 'module.bad_params',
    });
    await expect(b.handle('files.put', { name: 'a', data: 'not bytes' })).rejects.toMatchObject({
      code: 'module.bad_params',
    });
    await b.handle('search.query', { q: 'a&limit=1000' });
    await b.handle('files.put', { name: 'a b.txt', data: new ArrayBuffer(3), mime: 'text/plain' });
    expect(t.calls).toEqual([
      'GET /api/search?q=a%26limit%3D1000',
      'UPLOAD /api/files?name=a%20b.txt&mime=text%2Fplain 3',
    ]);
  });

  it("scopes storage to the module's own id whatever the module sends", async () => {
    const { b, t } = broker([]);
    await b.handle('storage.set', { key: 'k', value: 1 });
    await expect(
      b.handle('storage.set', { key: 'k', value: 1, id: 'other' }),
    ).rejects.toMatchObject({ code: 'module.bad_params' });
    expect(t.calls).toEqual(['PUT /api/modules/notes/data/k {"value":1}']);
  });

  it('answers ai.summarize with a coded unavailable error when granted', async () => {
    const { b } = broker(['ai:summarize']);
    await expect(b.handle('ai.summarize', { text: 'x' })).rejects.toMatchObject({
      code: 'module.unavailable',
    });
  });
});

describe('manifest validation', () => {
  const good = {
    id: 'notes',
    name: 'Notes',
    version: '1.0.0',
    entry: 'main.js',
    capabilities: ['notes:read', 'notes:write'],
  };
  it('accepts a good manifest', () => {
    expect(validateManifest(good)).toEqual({ ok: true, manifest: good });
  });
  it.each([
    ['network capability', { ...good, capabilities: ['network'] }],
    ['unknown key', { ...good, permissions: ['<all_urls>'] }],
    ['bad id', { ...good, id: 'Notes!' }],
    ['path in entry', { ...good, entry: '../evil.js' }],
    ['remote entry', { ...good, entry: 'https://x/y.js' }],
    ['repeated capability', { ...good, capabilities: ['search', 'search'] }],
    ['bad version', { ...good, version: '1' }],
    ['missing name', { ...good, name: '' }],
    ['not an object', 'notes'],
  ])('refuses %s', (_label, m) => {
    const r = validateManifest(m);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.length).toBeGreaterThan(0);
  });
});
