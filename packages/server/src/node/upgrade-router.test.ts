import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestDaemon, PASS, type TestDaemon } from '../../test/harness.js';

let t: TestDaemon;
let port: number;
let token: string;
const seen: string[] = [];

function upgrade(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({
      host: '127.0.0.1',
      port,
      path,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        host: `127.0.0.1:${port}`,
        ...headers,
      },
    });
    r.on('upgrade', (res, socket) => {
      resolve({ status: res.statusCode ?? 0, body: '' });
      socket.destroy();
    });
    r.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

beforeAll(async () => {
  t = await makeTestDaemon({ port: 0 });
  t.daemon.registerUpgrade('/ws/', (req, socket) => {
    seen.push(req.url ?? '');
    socket.end(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
  });
  t.daemon.registerUpgrade(
    '/own/',
    (_req, socket) =>
      socket.end(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      ),
    (req) => (req.url ?? '').endsWith('?t=stream-token'),
  );
  const url = await t.daemon.listen();
  port = Number(new URL(url).port);
  const res = await fetch(`${url}/api/vault/init`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ passphrase: PASS }),
  });
  token = ((await res.json()) as { token: string }).token;
});
afterAll(async () => {
  await t.close();
});

describe('registerUpgrade (the hook for the streaming gateway)', () => {
  it('hands an authenticated same-origin upgrade to the handler', async () => {
    const r = await upgrade('/ws/env_x', { authorization: `Bearer ${token}` });
    expect(r.status).toBe(101);
    expect(seen).toEqual(['/ws/env_x']);
  });

  it('refuses no token (401), a foreign Host or Origin (403) and unknown paths (404)', async () => {
    const noToken = await upgrade('/ws/env_x', {});
    expect(noToken.status).toBe(401);
    expect(JSON.parse(noToken.body)).toMatchObject({ error: { code: 'server.unauthenticated' } });
    const host = await upgrade('/ws/env_x', {
      authorization: `Bearer ${token}`,
      host: `evil.example:${port}`,
    });
    expect(host.status).toBe(403);
    const origin = await upgrade('/ws/env_x', {
      authorization: `Bearer ${token}`,
      origin: 'http://evil.example',
    });
    expect(origin.status).toBe(403);
    expect(JSON.parse(origin.body)).toMatchObject({ error: { code: 'server.bad_origin' } });
    expect((await upgrade('/nothing', { authorization: `Bearer ${token}` })).status).toBe(404);
    expect(seen).toEqual(['/ws/env_x']);
  });

  it('the daemon mounts the gateway on /streams/: a session token is not a stream token', async () => {
    const r = await upgrade('/streams/env_x', { authorization: `Bearer ${token}` });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'server.unauthenticated' } });
  });

  it('lets a plugin authenticate with its own short-lived token', async () => {
    expect((await upgrade('/own/x?t=stream-token', {})).status).toBe(101);
    expect((await upgrade('/own/x?t=wrong', {})).status).toBe(401);
  });
});
