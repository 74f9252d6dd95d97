import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestDaemon, PASS, type TestDaemon } from '../../../test/harness.js';

let t: TestDaemon;
let token: string;

interface Injected {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  rawPayload: Buffer;
  json(): unknown;
}

async function req(
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  opts: { body?: unknown; raw?: Buffer; token?: string | null } = {},
): Promise<Injected> {
  const headers: Record<string, string> = { host: t.host };
  const tok = opts.token === undefined ? token : opts.token;
  if (tok) headers['authorization'] = `Bearer ${tok}`;
  if (opts.raw) headers['content-type'] = 'application/octet-stream';
  else if (opts.body !== undefined) headers['content-type'] = 'application/json';
  return (await t.daemon.app.inject({
    method,
    url,
    headers,
    ...(opts.raw
      ? { payload: opts.raw }
      : opts.body !== undefined
        ? { payload: JSON.stringify(opts.body) }
        : {}),
  })) as unknown as Injected;
}
const code = (r: Injected) => (r.json() as { error: { code: string } }).error.code;

const manifest = {
  id: 'probe',
  name: 'Probe',
  version: '1.0.0',
  entry: 'main.js',
  capabilities: ['notes:read', 'search'],
};

beforeEach(async () => {
  t = await makeTestDaemon({ bodyLimit: 1024 * 1024 });
  const r = await req('POST', '/api/vault/init', { body: { passphrase: PASS }, token: null });
  token = (r.json() as { token: string }).token;
});
afterEach(async () => {
  await t.close();
});

describe('notes, search, settings', () => {
  it('creates, updates (keeping a revision), searches and deletes notes', async () => {
    const c = await req('POST', '/api/notes', {
      body: { title: 'Groceries', body: 'buy *oat* milk', tags: ['home'] },
    });
    expect(c.statusCode).toBe(201);
    const id = (c.json() as { id: string }).id;
    const u = await req('PATCH', `/api/notes/${id}`, { body: { body: 'buy oat milk and bread' } });
    expect((u.json() as { revision: number }).revision).toBe(2);
    const revs = await req('GET', `/api/notes/${id}/revisions`);
    expect((revs.json() as { body: string }[]).map((n) => n.body)).toEqual(['buy *oat* milk']);
    const s = await req('GET', '/api/search?q=bread');
    expect(s.json()).toMatchObject([{ kind: 'note', id, title: 'Groceries' }]);
    expect((await req('DELETE', `/api/notes/${id}`)).statusCode).toBe(204);
    const g = await req('GET', `/api/notes/${id}`);
    expect(g.statusCode).toBe(404);
    expect(code(g)).toBe('vault.no_such_item');
  });

  it('refuses a note without a title and every route without a token', async () => {
    expect(code(await req('POST', '/api/notes', { body: { title: ' ' } }))).toBe(
      'server.invalid_request',
    );
    expect((await req('GET', '/api/notes', { token: null })).statusCode).toBe(401);
    expect((await req('GET', '/api/files', { token: 'x'.repeat(43) })).statusCode).toBe(401);
  });

  it('stores settings', async () => {
    expect((await req('PUT', '/api/settings/theme', { body: { value: 'dark' } })).statusCode).toBe(
      204,
    );
    expect((await req('GET', '/api/settings/theme')).json()).toEqual({
      key: 'theme',
      value: 'dark',
    });
  });

  it('fails with server.locked after lock', async () => {
    await req('DELETE', '/api/session');
    const r2 = await req('POST', '/api/session', { body: { passphrase: PASS }, token: null });
    token = (r2.json() as { token: string }).token;
    // The vault locks under a live token (idle lock racing a request): the route must not touch it.
    await t.daemon.state.lock();
    expect(code(await req('GET', '/api/notes'))).toBe('server.locked');
  });
});

describe('files', () => {
  it('uploads raw bytes, streams them back as an attachment, finds the name', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const up = await req('PUT', '/api/files?name=big%20thing.bin&mime=image/png', { raw: data });
    expect(up.statusCode).toBe(201);
    const info = up.json() as { id: string; size: number; chunks: number };
    expect(info.size).toBe(data.length);
    expect(info.chunks).toBe(4);
    const down = await req('GET', `/api/files/${info.id}/content`);
    expect(down.statusCode).toBe(200);
    // SECURITY: never served with its stored media type.
    expect(down.headers['content-type']).toBe('application/octet-stream');
    expect(String(down.headers['content-disposition'])).toMatch(/^attachment/);
    expect(down.rawPayload.equals(data)).toBe(true);
    const s = await req('GET', '/api/search?q=thing');
    expect(s.json()).toMatchObject([{ kind: 'file', id: info.id }]);
    expect(code(await req('PUT', '/api/files?name=a%2Fb', { raw: Buffer.from('x') }))).toBe(
      'server.invalid_request',
    );
  });
});

describe('modules', () => {
  it('installs with a subset of the requested capabilities and audits the grants', async () => {
    const bad = await req('POST', '/api/modules', {
      body: { package: { manifest, script: '1' }, grants: ['files:read'] },
    });
    expect(code(bad)).toBe('modules.grant_not_requested');
    const r = await req('POST', '/api/modules', {
      body: { package: { manifest, script: 'document.title="x"' }, grants: ['search'] },
    });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ enabled: true, grants: ['search'], source: 'package' });
    const again = await req('POST', '/api/modules', {
      body: { package: { manifest, script: '1' }, grants: [] },
    });
    expect(code(again)).toBe('modules.already_installed');
    const audit = (await req('GET', '/api/audit')).json() as { action: string; details: unknown }[];
    expect(audit[0]).toMatchObject({
      action: 'module.install',
      details: { requested: ['notes:read', 'search'], granted: ['search'] },
    });
  });

  it('refuses invalid manifests (unknown keys such as a network wish, bad ids)', async () => {
    for (const m of [
      { ...manifest, capabilities: ['network'] },
      { ...manifest, network: true },
      { ...manifest, id: '../x' },
      { ...manifest, capabilities: ['search', 'search'] },
    ]) {
      const r = await req('POST', '/api/modules', {
        body: { package: { manifest: m, script: '1' }, grants: [] },
      });
      expect(r.statusCode).toBe(400);
    }
  });

  it('serves the frame once per ticket, with a CSP that forbids network', async () => {
    await req('POST', '/api/modules', {
      body: { package: { manifest, script: 'document.title="</script>"' }, grants: [] },
    });
    const f = await req('POST', '/api/modules/probe/frame');
    const url = (f.json() as { url: string }).url;
    const doc = await req('GET', url, { token: null });
    expect(doc.statusCode).toBe(200);
    const csp = String(doc.headers['content-security-policy']);
    expect(csp).toContain("connect-src 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain('sandbox allow-scripts');
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(doc.headers['x-frame-options']).toBeUndefined();
    expect(doc.body).not.toContain('"</script>"');
    const again = await req('GET', url, { token: null });
    expect(again.statusCode).toBe(403);
    expect(code(again)).toBe('modules.bad_ticket');
  });

  it('disables, keeps module data, removes module and data', async () => {
    await req('POST', '/api/modules', { body: { package: { manifest, script: '1' }, grants: [] } });
    await req('PUT', '/api/modules/probe/data/last', { body: { value: { n: 1 } } });
    expect((await req('GET', '/api/modules/probe/data/last')).json()).toEqual({
      key: 'last',
      value: { n: 1 },
    });
    await req('PATCH', '/api/modules/probe', { body: { enabled: false } });
    expect(code(await req('POST', '/api/modules/probe/frame'))).toBe('modules.disabled');
    expect((await req('DELETE', '/api/modules/probe')).statusCode).toBe(204);
    expect(code(await req('GET', '/api/modules/probe/data/last'))).toBe('modules.not_installed');
    expect((await req('GET', '/api/modules')).json()).toEqual([]);
    const actions = ((await req('GET', '/api/audit')).json() as { action: string }[]).map(
      (a) => a.action,
    );
    expect(actions).toEqual(['module.remove', 'module.disable', 'module.install']);
  });

  it('reports vault status and integrity', async () => {
    const s = (await req('GET', '/api/security/status')).json() as {
      integrity: { ok: boolean };
      unlockers: { kind: string }[];
    };
    expect(s.integrity.ok).toBe(true);
    expect(s.unlockers.map((u) => u.kind).sort()).toEqual(['passphrase', 'recovery']);
  });
});
