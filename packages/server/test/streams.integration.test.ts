/**
 * The streaming gateway wired into the daemon, with the REAL runtime: a desktop's display through
 * `/streams/<id>?token=…` (RFB 3.8 handshake, ServerInit 1280x800, one FramebufferUpdate), single
 * use of stream tokens, refusal without a token or from another Origin, close code 4001 on suspend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { EnvironmentRecord } from '@virtos/orchestrator';
import { startInProcess, stopInProcess, waitFor, type InProcess } from './in-process.js';
import { realRuntimeSkipReason } from './real-runtime.js';

const skip = await realRuntimeSkipReason();

/** A WebSocket with a byte queue: `read(n)` resolves with exactly n bytes. */
interface Conn {
  readonly ws: WebSocket;
  read(n: number): Promise<Buffer>;
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** Opens a stream; rejects with `status` when the upgrade is refused. */
function connect(url: string, origin: string | undefined): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], origin === undefined ? {} : { origin });
    ws.binaryType = 'nodebuffer';
    let buf = Buffer.alloc(0);
    let waiter: (() => void) | undefined;
    ws.on('message', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      waiter?.();
    });
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.on('close', (code, reason) => res({ code, reason: reason.toString('utf8') })),
    );
    ws.once('unexpected-response', (_req, res) => {
      reject(
        Object.assign(new Error(`refused: HTTP ${res.statusCode}`), { status: res.statusCode }),
      );
      res.resume();
    });
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        closed,
        read: async (n) => {
          const deadline = Date.now() + 10_000;
          while (buf.length < n) {
            if (Date.now() > deadline) throw new Error(`timeout reading ${n} bytes`);
            await new Promise<void>((r) => {
              waiter = r;
              setTimeout(r, 200);
            });
          }
          const out = buf.subarray(0, n);
          buf = buf.subarray(n);
          return out;
        },
      }),
    );
  });
}

async function refusedStatus(url: string, origin: string | undefined): Promise<number> {
  try {
    const c = await connect(url, origin);
    c.ws.close();
    return 101;
  } catch (e) {
    return (e as { status?: number }).status ?? -1;
  }
}

describe.skipIf(skip !== undefined)(
  `streams through the daemon (real runtime)${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let p: InProcess | undefined;
    beforeAll(async () => {
      p = await startInProcess();
    }, 120_000);
    afterAll(async () => {
      await stopInProcess(p);
    }, 120_000);

    it('desktop: RFB through /streams with a single-use token; origin checked; 4001 on suspend', async () => {
      const { client, daemon, token: session } = p!;
      const origin = daemon.url;
      const ws = daemon.url.replace(/^http/, 'ws');
      const out = (await client.create(
        { request: 'a debian desktop with xterm' },
        { wait: true },
      )) as { record: EnvironmentRecord };
      const rec = await waitFor(client, out.record.id, (r) => r.state === 'running');
      const id = rec.id;
      const api = (path: string, method = 'GET') =>
        fetch(`${daemon.url}${path}`, { method, headers: { authorization: `Bearer ${session}` } });

      // Unknown ids: 404; no session: 401.
      expect((await api('/api/environments/env_nope/stream-token', 'POST')).status).toBe(404);
      expect(
        (await fetch(`${daemon.url}/api/environments/${id}/stream-token`, { method: 'POST' }))
          .status,
      ).toBe(401);

      const issue = async () => {
        const res = await api(`/api/environments/${id}/stream-token`, 'POST');
        expect(res.status).toBe(200);
        return (await res.json()) as { token: string; url: string; expiresAt: number };
      };
      const t = await issue();
      expect(t.url).toBe(`/streams/${id}?token=${t.token}`);
      expect(t.expiresAt).toBeGreaterThan(Date.now());

      // No token, and a wrong Origin, are refused (the wrong Origin does not burn the token).
      expect(await refusedStatus(`${ws}/streams/${id}`, origin)).toBe(401);
      expect(await refusedStatus(`${ws}${t.url}`, 'http://evil.example')).toBe(403);

      const c = await connect(`${ws}${t.url}`, origin);
      expect(c.ws.protocol).toBe('binary');
      // RFB 3.8: ProtocolVersion, security None, SecurityResult, ClientInit, ServerInit.
      expect((await c.read(12)).toString('latin1')).toBe('RFB 003.008\n');
      c.ws.send(Buffer.from('RFB 003.008\n', 'latin1'));
      const nTypes = (await c.read(1))[0]!;
      expect(nTypes).toBeGreaterThan(0);
      expect([...(await c.read(nTypes))]).toContain(1);
      c.ws.send(Buffer.from([1]));
      expect((await c.read(4)).readUInt32BE(0)).toBe(0);
      c.ws.send(Buffer.from([1])); // ClientInit: shared
      const init = await c.read(24);
      expect([init.readUInt16BE(0), init.readUInt16BE(2)]).toEqual([1280, 800]);
      await c.read(init.readUInt32BE(20)); // the desktop name
      // SetEncodings [Raw], then a full FramebufferUpdateRequest.
      c.ws.send(Buffer.from([2, 0, 0, 1, 0, 0, 0, 0]));
      const req = Buffer.alloc(10);
      req.writeUInt8(3, 0);
      req.writeUInt8(0, 1);
      req.writeUInt16BE(1280, 6);
      req.writeUInt16BE(800, 8);
      c.ws.send(req);
      const update = await c.read(4);
      expect(update[0]).toBe(0); // FramebufferUpdate
      expect(update.readUInt16BE(2)).toBeGreaterThan(0);

      // Single use: the same token again is refused.
      expect(await refusedStatus(`${ws}${t.url}`, origin)).toBe(401);

      const stats = (await (await api(`/api/environments/${id}/stream-stats`)).json()) as unknown[];
      expect(stats).toHaveLength(1);
      const metrics = await (await api('/metrics')).text();
      expect(metrics).toContain('virtos_gateway_streams 1');

      // Suspending closes the stream with 4001; a token is then 409.
      await client.suspend(id);
      expect((await c.closed).code).toBe(4001);
      expect((await api(`/api/environments/${id}/stream-token`, 'POST')).status).toBe(409);
      await client.terminate(id);
    }, 180_000);
  },
);
