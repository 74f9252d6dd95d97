/**
 * The same checks over real HTTP on 127.0.0.1 (what a browser or the CLI sees), plus the event
 * stream, which inject cannot follow.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestDaemon, PASS, type TestDaemon } from '../../test/harness.js';

let t: TestDaemon;
let port: number;
let token: string;

function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: data, headers: res.headers }),
      );
    });
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

beforeAll(async () => {
  t = await makeTestDaemon({ port: 0 });
  const url = await t.daemon.listen();
  port = Number(new URL(url).port);
  const res = await fetch(`${url}/api/vault/init`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ passphrase: PASS }),
  });
  expect(res.status).toBe(201);
  token = ((await res.json()) as { token: string }).token;
});
afterAll(async () => {
  await t.close();
});

describe('over HTTP on 127.0.0.1', () => {
  it('listens on loopback only and prints a 127.0.0.1 URL', () => {
    expect(t.daemon.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const addr = t.daemon.app.server.address();
    expect(addr && typeof addr === 'object' && addr.address).toBe('127.0.0.1');
  });

  it('refuses a rebinding Host and a foreign Origin, accepts the real ones', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const bad = await raw('GET', '/api/environments', { ...auth, host: `evil.example:${port}` });
    expect(bad.status).toBe(403);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'server.bad_host' } });
    const cross = await raw('GET', '/api/environments', {
      ...auth,
      host: `127.0.0.1:${port}`,
      origin: 'http://evil.example',
    });
    expect(cross.status).toBe(403);
    expect(JSON.parse(cross.body)).toMatchObject({ error: { code: 'server.bad_origin' } });
    const good = await raw('GET', '/api/environments', { ...auth, host: `localhost:${port}` });
    expect(good.status).toBe(200);
  });

  it('no token 401, wrong token 401, oversized body 413, malformed JSON 400', async () => {
    const host = `127.0.0.1:${port}`;
    expect((await raw('GET', '/api/environments', { host })).status).toBe(401);
    expect(
      (await raw('GET', '/api/environments', { host, authorization: `Bearer ${'x'.repeat(43)}` }))
        .status,
    ).toBe(401);
    const big = await raw(
      'POST',
      '/api/session',
      { host, 'content-type': 'application/json' },
      JSON.stringify({ passphrase: 'x'.repeat(2 * 1024 * 1024) }),
    );
    expect(big.status).toBe(413);
    const bad = await raw(
      'POST',
      '/api/environments',
      { host, 'content-type': 'application/json', authorization: `Bearer ${token}` },
      '{"request":',
    );
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'server.malformed_json' } });
  });

  it('streams events as SSE while an environment is created', async () => {
    const ac = new AbortController();
    const res = await fetch(`${t.daemon.url}/api/events`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const created = await fetch(`${t.daemon.url}/api/environments?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ request: 'a debian shell' }),
    });
    expect(created.status).toBe(201);
    const id = ((await created.json()) as { id: string }).id;
    let text = '';
    const dec = new TextDecoder();
    while (!text.includes('"to":"running"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    ac.abort();
    expect(text).toContain(`"envId":"${id}"`);
    expect(text).toMatch(/event: transition\ndata: .*"to":"running"/);

    // Per environment: history first (id: seq), then live.
    const ac2 = new AbortController();
    const per = await fetch(`${t.daemon.url}/api/environments/${id}/events`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: ac2.signal,
    });
    const r2 = per.body!.getReader();
    let t2 = '';
    while (!t2.includes('"to":"running"')) {
      const { value, done } = await r2.read();
      if (done) break;
      t2 += dec.decode(value);
    }
    ac2.abort();
    expect(t2).toMatch(/^: virtos events\n\nid: 1\n/);
  });

  it('locking ends open event streams and kills the token', async () => {
    const res = await fetch(`${t.daemon.url}/api/events`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const reader = res.body!.getReader();
    await reader.read();
    const lock = await fetch(`${t.daemon.url}/api/session`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(lock.status).toBe(204);
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    const after = await fetch(`${t.daemon.url}/api/environments`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(after.status).toBe(401);
  });
});
