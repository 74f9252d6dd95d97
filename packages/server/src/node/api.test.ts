import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAST_KDF, makeTestDaemon, PASS, type TestDaemon } from '../../test/harness.js';

let t: TestDaemon;

interface Injected {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json(): unknown;
}

function req(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  opts: { token?: string; body?: unknown; payload?: string; headers?: Record<string, string> } = {},
): Promise<Injected> {
  const headers: Record<string, string> = { host: t.host, ...opts.headers };
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  if (opts.body !== undefined || opts.payload !== undefined)
    headers['content-type'] ??= 'application/json';
  return t.daemon.app.inject({
    method,
    url,
    headers,
    ...(opts.payload !== undefined
      ? { payload: opts.payload }
      : opts.body !== undefined
        ? { payload: JSON.stringify(opts.body) }
        : {}),
  }) as unknown as Promise<Injected>;
}

function errorOf(r: Injected): { code: string; class: string; message: string; hint?: string } {
  return (r.json() as { error: { code: string; class: string; message: string; hint?: string } })
    .error;
}

async function init(): Promise<string> {
  const r = await req('POST', '/api/vault/init', { body: { passphrase: PASS } });
  expect(r.statusCode).toBe(201);
  const b = r.json() as { token: string; recoveryKey: string };
  expect(b.recoveryKey).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){12}$/);
  return b.token;
}

beforeEach(async () => {
  t = await makeTestDaemon();
});
afterEach(async () => {
  await t.close();
});

describe('public routes', () => {
  it('GET / is a page with a strict Content-Security-Policy', async () => {
    const r = await req('GET', '/');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/html/);
    expect(String(r.headers['content-security-policy'])).toContain("default-src 'none'");
    expect(String(r.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
    expect(r.body).toContain('VirtOS is running');
  });

  it('GET /api/health says whether there is a vault and whether it is unlocked', async () => {
    expect((await req('GET', '/api/health')).json()).toMatchObject({ ok: true, vault: 'none' });
    await init();
    expect((await req('GET', '/api/health')).json()).toMatchObject({ vault: 'unlocked' });
  });
});

describe('authentication', () => {
  it('refuses a request without a token with 401 server.unauthenticated', async () => {
    const r = await req('GET', '/api/environments');
    expect(r.statusCode).toBe(401);
    expect(errorOf(r)).toMatchObject({
      code: 'server.unauthenticated',
      class: 'permission_denied',
    });
    expect(errorOf(r).hint).toContain('unlock');
  });

  it('refuses a wrong token, a malformed Authorization header and a token in the query', async () => {
    await init();
    for (const headers of [
      { authorization: 'Bearer ' + 'A'.repeat(43) },
      { authorization: 'Basic Zm9vOmJhcg==' },
      { authorization: 'Bearer a b' },
    ]) {
      const r = await req('GET', '/api/environments', { headers });
      expect(r.statusCode).toBe(401);
      expect(errorOf(r).code).toBe('server.unauthenticated');
    }
  });

  it('the token from init works; after DELETE /api/session (lock) it is dead', async () => {
    const token = await init();
    expect((await req('GET', '/api/environments', { token })).statusCode).toBe(200);
    const lock = await req('DELETE', '/api/session', { token });
    expect(lock.statusCode).toBe(204);
    const r = await req('GET', '/api/environments', { token });
    expect(r.statusCode).toBe(401);
    expect(errorOf(r).code).toBe('server.unauthenticated');
    expect((await req('GET', '/api/health')).json()).toMatchObject({ vault: 'locked' });
  });

  it('unlock with the passphrase or the recovery key gives a new token', async () => {
    const r0 = await req('POST', '/api/vault/init', { body: { passphrase: PASS } });
    const { token, recoveryKey } = r0.json() as { token: string; recoveryKey: string };
    await req('DELETE', '/api/session', { token });
    const r1 = await req('POST', '/api/session', { body: { passphrase: PASS } });
    expect(r1.statusCode).toBe(201);
    const t1 = (r1.json() as { token: string }).token;
    expect(t1).not.toBe(token);
    expect(Buffer.from(t1, 'base64url')).toHaveLength(32);
    expect((await req('GET', '/api/environments', { token: t1 })).statusCode).toBe(200);
    const r2 = await req('POST', '/api/session', { body: { recoveryKey } });
    expect(r2.statusCode).toBe(201);
  });

  it('a wrong passphrase is 403 vault.wrong_passphrase with a hint, also while unlocked', async () => {
    await init();
    const r = await req('POST', '/api/session', { body: { passphrase: 'wrong' } });
    expect(r.statusCode).toBe(403);
    expect(errorOf(r)).toMatchObject({
      code: 'vault.wrong_passphrase',
      class: 'permission_denied',
    });
    expect(errorOf(r).hint).toBeTruthy();
  });

  it('repeated wrong passphrases are rate-limited with 429 server.too_many_attempts', async () => {
    await init();
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) {
      codes.push(
        (await req('POST', '/api/session', { body: { passphrase: `nope${i}` } })).statusCode,
      );
    }
    expect(codes.slice(0, 6)).toEqual([403, 403, 403, 403, 403, 403]);
    expect(codes[6]).toBe(429);
    // Even the right passphrase waits out the back-off.
    const r = await req('POST', '/api/session', { body: { passphrase: PASS } });
    expect(r.statusCode).toBe(429);
    expect(errorOf(r).code).toBe('server.too_many_attempts');
  });

  it('init is refused when a vault exists (409), and unlock without a vault is 409 server.no_vault', async () => {
    const none = await req('POST', '/api/session', { body: { passphrase: PASS } });
    expect(none.statusCode).toBe(409);
    expect(errorOf(none).code).toBe('server.no_vault');
    await init();
    const again = await req('POST', '/api/vault/init', { body: { passphrase: PASS } });
    expect(again.statusCode).toBe(409);
    expect(errorOf(again).code).toBe('server.vault_exists');
  });

  it('the session idle timeout kills tokens and locks the vault', async () => {
    const { ManualClock } = await import('@virtos/core');
    await t.close();
    const clock = new ManualClock(1_000_000);
    t = await makeTestDaemon({ clock, idleMs: 60_000 });
    const token = await init();
    clock.advance(59_000);
    expect((await req('GET', '/api/environments', { token })).statusCode).toBe(200);
    clock.advance(61_000);
    await new Promise((r) => setTimeout(r, 50));
    expect((await req('GET', '/api/environments', { token })).statusCode).toBe(401);
    expect((await req('GET', '/api/health')).json()).toMatchObject({ vault: 'locked' });
  });
});

describe('Host and Origin', () => {
  it('refuses another Host (DNS rebinding) with 403 server.bad_host, even with a token', async () => {
    const token = await init();
    for (const host of [
      'evil.example:7460',
      'localhost.evil.example',
      '127.0.0.1:7461',
      '127.0.0.1',
    ]) {
      const r = await req('GET', '/api/environments', { token, headers: { host } });
      expect(r.statusCode, host).toBe(403);
      expect(errorOf(r).code).toBe('server.bad_host');
    }
    // Public routes too: a rebinding page must not even learn the vault state.
    expect(
      (await req('GET', '/api/health', { headers: { host: 'evil.example:7460' } })).statusCode,
    ).toBe(403);
  });

  it('accepts the loopback names with the daemon port', async () => {
    for (const host of ['127.0.0.1:7460', 'localhost:7460', '[::1]:7460']) {
      expect((await req('GET', '/api/health', { headers: { host } })).statusCode, host).toBe(200);
    }
  });

  it('refuses a foreign Origin and cross-site fetch metadata with 403 server.bad_origin', async () => {
    const token = await init();
    for (const headers of [
      { origin: 'http://evil.example' },
      { origin: 'http://127.0.0.1:8080' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ]) {
      const r = await req('POST', '/api/session', { headers, body: { passphrase: PASS } });
      expect(r.statusCode).toBe(403);
      expect(errorOf(r).code).toBe('server.bad_origin');
      const g = await req('GET', '/api/environments', { token, headers });
      expect(g.statusCode).toBe(403);
    }
    const own = await req('GET', '/api/environments', {
      token,
      headers: { origin: 'http://127.0.0.1:7460', 'sec-fetch-site': 'same-origin' },
    });
    expect(own.statusCode).toBe(200);
  });
});

describe('bodies', () => {
  it('refuses an oversized body with 413 server.body_too_large', async () => {
    const r = await req('POST', '/api/session', {
      payload: JSON.stringify({ passphrase: 'x'.repeat(1024 * 1024 + 10) }),
    });
    expect(r.statusCode).toBe(413);
    expect(errorOf(r)).toMatchObject({ code: 'server.body_too_large', class: 'invalid_argument' });
  });

  it('refuses malformed JSON with 400 server.malformed_json', async () => {
    const token = await init();
    for (const payload of ['{"request": ', 'not json', '']) {
      const r = await req('POST', '/api/environments', { token, payload });
      expect(r.statusCode, payload).toBe(400);
      expect(errorOf(r).code).toBe('server.malformed_json');
    }
  });

  it('refuses schema-invalid bodies with 400 server.invalid_request naming the field', async () => {
    const token = await init();
    for (const body of [
      {},
      { request: 42 },
      { request: '' },
      { spec: { version: 1 } },
      { request: 'x', extra: 1 },
    ]) {
      const r = await req('POST', '/api/environments', { token, body });
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(errorOf(r).code).toBe('server.invalid_request');
    }
    const exec = await req('POST', '/api/environments/env_x/exec', { token, body: { args: [] } });
    expect(exec.statusCode).toBe(400);
  });

  it('refuses a non-JSON content type with 415', async () => {
    const r = await req('POST', '/api/session', {
      payload: 'passphrase=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(r.statusCode).toBe(415);
    expect(errorOf(r).code).toBe('server.unsupported_media_type');
  });
});

describe('environments', () => {
  it('unknown ids are 404 orchestrator.not_found on every route; bad ids are 400', async () => {
    const token = await init();
    const id = 'env_0000000000000000';
    for (const [m, u, body] of [
      ['GET', `/api/environments/${id}`],
      ['PATCH', `/api/environments/${id}`, { request: 'add git' }],
      ['POST', `/api/environments/${id}/suspend`],
      ['POST', `/api/environments/${id}/resume`],
      ['DELETE', `/api/environments/${id}`],
      ['GET', `/api/environments/${id}/events`],
      ['POST', `/api/environments/${id}/exec`, { args: ['true'] }],
    ] as const) {
      const r = await req(m, u, { token, ...(body && { body }) });
      expect(r.statusCode, `${m} ${u}`).toBe(404);
      expect(errorOf(r).code).toBe('orchestrator.not_found');
    }
    const bad = await req('GET', '/api/environments/..%2F..%2Fetc', { token });
    expect(bad.statusCode).toBe(400);
    const noRoute = await req('GET', '/api/nothing', { token });
    expect(noRoute.statusCode).toBe(404);
    expect(errorOf(noRoute).code).toBe('server.no_such_route');
  });

  it('a locked vault answers 401 to old tokens, and routes need the vault unlocked', async () => {
    const r = await req('GET', '/api/environments');
    expect(r.statusCode).toBe(401);
  });

  it('compose, create (wait), get, list, suspend, resume, illegal resume, exec, terminate', async () => {
    const token = await init();
    const c = await req('POST', '/api/compose', {
      token,
      body: { request: 'a debian shell with git' },
    });
    expect(c.statusCode).toBe(200);
    expect(c.json()).toMatchObject({ ok: true });

    const bad = await req('POST', '/api/environments', {
      token,
      body: { request: 'a windows 11 desktop' },
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.json()).toMatchObject({ ok: false, error: { code: 'server.compose_not_ok' } });
    expect((bad.json() as { findings: unknown[] }).findings.length).toBeGreaterThan(0);

    const cr = await req('POST', '/api/environments?wait=true', {
      token,
      body: { request: 'a debian shell with git' },
    });
    expect(cr.statusCode).toBe(201);
    const rec = cr.json() as { id: string; state: string };
    expect(rec.state).toBe('running');

    const g = await req('GET', `/api/environments/${rec.id}`, { token });
    expect(g.json()).toMatchObject({ id: rec.id, state: 'running' });
    const l = await req('GET', '/api/environments?state=running', { token });
    expect((l.json() as { environments: { id: string }[] }).environments.map((e) => e.id)).toEqual([
      rec.id,
    ]);

    const s = await req('POST', `/api/environments/${rec.id}/suspend`, { token });
    expect(s.json()).toMatchObject({ state: 'suspended' });
    const ill = await req('POST', `/api/environments/${rec.id}/suspend`, { token });
    expect(ill.statusCode).toBe(409);
    expect(errorOf(ill)).toMatchObject({
      code: 'orchestrator.illegal_operation',
      class: 'failed_precondition',
    });
    expect(errorOf(ill).message).toMatch(/suspend/);
    const rs = await req('POST', `/api/environments/${rec.id}/resume`, { token });
    expect(rs.json()).toMatchObject({ state: 'running' });

    const ex = await req('POST', `/api/environments/${rec.id}/exec`, {
      token,
      body: { args: ['echo', 'hi'] },
    });
    expect(ex.statusCode).toBe(200);
    expect(ex.headers['content-type']).toMatch(/application\/x-ndjson/);
    const lines = ex.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.at(-1)).toHaveProperty('exitCode');

    const ev = await req('GET', `/api/environments/${rec.id}/events`, { token });
    const events = (ev.json() as { events: { seq: number; to?: string }[] }).events;
    expect(events.map((e) => e.to).filter(Boolean)).toEqual(
      expect.arrayContaining(['requested', 'provisioning', 'running', 'suspended']),
    );
    const since = await req(
      'GET',
      `/api/environments/${rec.id}/events?since=${events.at(-2)!.seq}`,
      { token },
    );
    expect((since.json() as { events: unknown[] }).events).toHaveLength(1);

    const d = await req('DELETE', `/api/environments/${rec.id}`, { token });
    expect(d.json()).toMatchObject({ state: 'terminated' });
    const after = await req('POST', `/api/environments/${rec.id}/resume`, { token });
    expect(after.statusCode).toBe(409);
  });

  it('records survive lock and unlock (they live in the vault)', async () => {
    const token = await init();
    const cr = await req('POST', '/api/environments?wait=true', {
      token,
      body: { request: 'a debian shell' },
    });
    const id = (cr.json() as { id: string }).id;
    await req('DELETE', '/api/session', { token });
    const t2 = (
      (await req('POST', '/api/session', { body: { passphrase: PASS } })).json() as {
        token: string;
      }
    ).token;
    const g = await req('GET', `/api/environments/${id}`, { token: t2 });
    expect(g.statusCode).toBe(200);
    expect((g.json() as { id: string }).id).toBe(id);
  });
});

describe('documents', () => {
  it('serves an OpenAPI 3.1 document with the routes and the spec schema (token needed)', async () => {
    expect((await req('GET', '/api/openapi.json')).statusCode).toBe(401);
    const token = await init();
    const r = await req('GET', '/api/openapi.json', { token });
    expect(r.statusCode).toBe(200);
    const doc = r.json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/environments',
        '/api/environments/{id}',
        '/api/environments/{id}/exec',
        '/api/session',
        '/api/vault/init',
        '/api/compose',
      ]),
    );
    expect(JSON.stringify(doc.paths['/api/environments'])).toContain('distro');
  });

  it('/metrics has environments per state, queue length, the histogram and HTTP requests', async () => {
    const token = await init();
    await req('POST', '/api/environments?wait=true', {
      token,
      body: { request: 'a debian shell' },
    });
    const r = await req('GET', '/metrics', { token });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/plain; version=0.0.4/);
    expect(r.body).toContain('virtos_environments{state="running"} 1');
    expect(r.body).toContain('virtos_scheduler_queue_length 0');
    expect(r.body).toMatch(/virtos_provisioning_duration_seconds_count 1/);
    expect(r.body).toMatch(
      /virtos_http_requests_total\{method="POST",route="\/api\/environments",status="201"\} 1/,
    );
    expect((await req('GET', '/metrics')).statusCode).toBe(401);
  });
});

void FAST_KDF;
