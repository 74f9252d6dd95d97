/**
 * The gateway against a real Xvnc on a Unix socket: a real WebSocket client does the RFB handshake
 * through it and reads a whole framebuffer; every refusal case is refused before anything connects
 * to the display server.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@virtos/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../src/index.js';
import type { StreamEndpoint } from '../src/index.js';
import type { GatewayHarness } from './helpers/harness.js';
import { rawUpgradeStatus, startHarness } from './helpers/harness.js';
import { RfbTestClient, wsTransport } from './helpers/rfb-test-client.js';
import type { TestXvnc } from './helpers/xvnc.js';
import { hasXvnc, startXvnc } from './helpers/xvnc.js';

const ENV = 'env_desktop1';
const OTHER = 'env_desktop2';
const skipReason = hasXvnc() ? false : 'Xvnc (tigervnc-standalone-server) is not installed';

async function refusedStatus(url: string, origin: string | undefined): Promise<number> {
  try {
    const { ws } = await wsTransport(url, origin);
    ws.close();
    return 101;
  } catch (e) {
    return (e as { status?: number }).status ?? -1;
  }
}

describe.skipIf(skipReason)('gateway with a real Xvnc', () => {
  let xvnc: TestXvnc;
  let h: GatewayHarness;
  const tokenClock = new ManualClock(1_700_000_000_000);
  const resolved: string[] = [];
  let endpoints: Record<string, StreamEndpoint | undefined> = {};

  beforeAll(async () => {
    xvnc = await startXvnc('640x480');
    endpoints = {
      [ENV]: { protocol: 'rfb', socketPath: xvnc.socketPath },
      [OTHER]: { protocol: 'rfb', socketPath: xvnc.socketPath },
    };
    h = await startHarness({
      tokenOptions: { clock: tokenClock, ttlMs: 10_000 },
      resolveEndpoint: async (envId) => {
        resolved.push(envId);
        return endpoints[envId];
      },
    });
  });

  afterAll(async () => {
    await h?.close();
    await xvnc?.stop();
  });

  it('proxies the RFB handshake and a full 640x480 framebuffer', async () => {
    const { transport, ws } = await wsTransport(h.streamUrl(ENV), h.origin);
    expect(ws.protocol).toBe('binary');
    const c = new RfbTestClient(transport);
    await c.handshake();
    expect([c.width, c.height]).toEqual([640, 480]);
    const u = c.nextUpdate();
    c.requestUpdate(false);
    const update = await u;
    expect(update.pixels).toBe(640 * 480);
    const stats = h.gateway.stats(ENV);
    expect(stats).toHaveLength(1);
    const s = stats[0]!;
    expect(s.bytesToClient).toBeGreaterThanOrEqual(640 * 480 * 4);
    expect(s.framebufferUpdates).toBe(1);
    expect(s.parserSynced).toBe(true);
    expect(h.gateway.metrics()).toMatch(
      /virtos_gateway_stream_framebuffer_updates_total\{env="env_desktop1",stream="stream_[0-9a-z]+",protocol="rfb"\} 1/,
    );
    c.close();
    await c.closed();
  });

  it('measures input-to-update latency and RTT', async () => {
    const { transport } = await wsTransport(h.streamUrl(ENV), h.origin);
    const c = new RfbTestClient(transport);
    await c.handshake();
    let u = c.nextUpdate();
    c.requestUpdate(false);
    await u;
    // A pointer move makes Xvnc send a cursor-position-free update only when asked; ask first.
    u = c.nextUpdate();
    c.requestUpdate(true);
    c.writeRaw(Uint8Array.of(5, 0, 0, 10, 0, 10)); // PointerEvent
    c.requestUpdate(false);
    await u;
    await new Promise((r) => setTimeout(r, 50));
    const s = h.gateway.stats(ENV)[0]!;
    expect(s.inputEvents).toBe(1);
    expect(s.inputToUpdateMs?.samples).toBe(1);
    expect(s.rttMs).not.toBeNull();
    c.close();
    await c.closed();
  });

  it('closes streams with 4001 when the environment is suspended, 4002 when terminated', async () => {
    const a = new RfbTestClient((await wsTransport(h.streamUrl(ENV), h.origin)).transport);
    const b = new RfbTestClient((await wsTransport(h.streamUrl(OTHER), h.origin)).transport);
    await a.handshake();
    await b.handshake();
    expect(h.gateway.closeEnvironment(ENV, 'suspended')).toBe(1);
    expect(await a.closed()).toEqual({
      code: CLOSE_CODES.environmentSuspended,
      reason: 'The environment was suspended.',
    });
    expect(h.gateway.stats(OTHER)).toHaveLength(1);
    expect(h.gateway.closeEnvironment(OTHER, 'terminated')).toBe(1);
    expect((await b.closed()).code).toBe(CLOSE_CODES.environmentTerminated);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.gateway.streamCount).toBe(0);
  });

  describe('security', () => {
    // Every refusal below must leave Xvnc without a new connection and must never ask the
    // resolver for anything but a validated env id.
    let acceptedBefore = 0;
    let resolvedBefore = 0;
    beforeAll(async () => {
      await new Promise((r) => setTimeout(r, 200)); // let Xvnc log the earlier connections
      acceptedBefore = xvnc.acceptedConnections();
      resolvedBefore = resolved.length;
    });

    it('refuses a request without a token', async () => {
      expect(await refusedStatus(`${h.wsBase}/streams/${ENV}`, h.origin)).toBe(403);
      expect(await refusedStatus(`${h.wsBase}/streams/${ENV}?token=`, h.origin)).toBe(403);
    });

    it('refuses an expired token', async () => {
      const url = h.streamUrl(ENV);
      tokenClock.advance(10_001);
      expect(await refusedStatus(url, h.origin)).toBe(403);
    });

    it('refuses a reused token', async () => {
      const url = h.streamUrl(ENV);
      const first = new RfbTestClient((await wsTransport(url, h.origin)).transport);
      await first.handshake();
      expect(await refusedStatus(url, h.origin)).toBe(403);
      first.close();
      await first.closed();
      acceptedBefore++; // the first, legitimate use connected once
      resolvedBefore++;
    });

    it('refuses a token issued for another environment', async () => {
      const token = h.tokens.issue(OTHER, 'sess_test').token;
      expect(await refusedStatus(`${h.wsBase}/streams/${ENV}?token=${token}`, h.origin)).toBe(403);
      // ...and the attempt burnt it: it no longer works for its own environment either.
      expect(await refusedStatus(`${h.wsBase}/streams/${OTHER}?token=${token}`, h.origin)).toBe(
        403,
      );
    });

    it('refuses a made-up token', async () => {
      const fake = Buffer.alloc(32, 7).toString('base64url');
      expect(await refusedStatus(`${h.wsBase}/streams/${ENV}?token=${fake}`, h.origin)).toBe(403);
    });

    it('refuses a wrong, missing or null Origin, even with a valid token', async () => {
      expect(await refusedStatus(h.streamUrl(ENV), 'http://evil.example')).toBe(403);
      expect(await refusedStatus(h.streamUrl(ENV), 'http://127.0.0.1:1')).toBe(403);
      expect(await refusedStatus(h.streamUrl(ENV), h.origin.replace('http:', 'https:'))).toBe(403);
      expect(await refusedStatus(h.streamUrl(ENV), 'null')).toBe(403);
      expect(await refusedStatus(h.streamUrl(ENV), undefined)).toBe(403);
    });

    it('refuses URLs that try to name a path, a socket or a host', async () => {
      const token = () => h.tokens.issue(ENV, 'sess_test').token;
      const cases = [
        `/streams/..%2F..%2Ftmp%2Fx?token=${token()}`,
        `/streams/../../tmp/x?token=${token()}`,
        `/streams/${ENV}/../${OTHER}?token=${token()}`,
        `/streams/${ENV}%00?token=${token()}`,
        `/streams/.${ENV}?token=${token()}`,
        `/streams/${ENV}?token=${token()}&socket=${encodeURIComponent(xvnc.socketPath)}`,
        `/streams/${ENV}?socket=/tmp/x&token=${token()}`,
        `/streams/${ENV}?token=${token()}&host=127.0.0.1&port=5900`,
        `/streams/${ENV}?token=${token()}&token=${token()}`,
        `/streams/?token=${token()}`,
        `/streams/${'a'.repeat(65)}?token=${token()}`,
        `/streams/${ENV}#x?token=${token()}`,
        `/streams/%65nv_desktop1?token=${token()}`,
      ];
      for (const path of cases) {
        const status = await rawUpgradeStatus(h.wsBase, path, h.origin);
        expect({ path, status }).toEqual({ path, status: 400 });
      }
    });

    it('refuses an environment the resolver does not know (404), without connecting', async () => {
      expect(await refusedStatus(h.streamUrl('env_unknown1'), h.origin)).toBe(404);
      resolvedBefore++;
    });

    it('refuses an endpoint that is a symlink to a socket, or not absolute', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'virtos-gw-link-'));
      try {
        const link = join(dir, 'vnc.sock');
        symlinkSync(xvnc.socketPath, link);
        endpoints['env_linked1'] = { protocol: 'rfb', socketPath: link };
        endpoints['env_relative1'] = { protocol: 'rfb', socketPath: 'vnc.sock' };
        endpoints['env_dotted1'] = {
          protocol: 'rfb',
          socketPath: `${dir}/../${dir.split('/').pop()}/vnc.sock`,
        };
        expect(await refusedStatus(h.streamUrl('env_linked1'), h.origin)).toBe(502);
        expect(await refusedStatus(h.streamUrl('env_relative1'), h.origin)).toBe(502);
        expect(await refusedStatus(h.streamUrl('env_dotted1'), h.origin)).toBe(502);
        resolvedBefore += 3;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses an endpoint protocol it does not proxy', async () => {
      endpoints['env_spice1'] = { protocol: 'spice' as 'rfb', socketPath: xvnc.socketPath };
      expect(await refusedStatus(h.streamUrl('env_spice1'), h.origin)).toBe(409);
      resolvedBefore++;
    });

    it('never connected to Xvnc for a refused request, and resolved only validated ids', async () => {
      await new Promise((r) => setTimeout(r, 300));
      expect(xvnc.acceptedConnections()).toBe(acceptedBefore);
      expect(resolved.length).toBe(resolvedBefore);
      for (const id of resolved) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/);
      const metrics = h.gateway.metrics();
      expect(metrics).toMatch(
        /virtos_gateway_streams_refused_total\{code="gateway.token_invalid"\} \d+/,
      );
      expect(metrics).toMatch(
        /virtos_gateway_streams_refused_total\{code="gateway.origin_refused"\} 5/,
      );
    });

    it('closes an RFB stream that receives a text frame (1002)', async () => {
      const { ws } = await wsTransport(h.streamUrl(ENV), h.origin);
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      ws.send('{"socket":"/tmp/x"}');
      expect(await closed).toBe(CLOSE_CODES.protocolError);
    });
  });
});

describe.skipIf(skipReason)('gateway limits with a real Xvnc', () => {
  let xvnc: TestXvnc;
  beforeAll(async () => {
    xvnc = await startXvnc('320x240');
  });
  afterAll(async () => {
    await xvnc?.stop();
  });

  it('closes an idle stream with 4003 and refuses streams above maxStreams with 503', async () => {
    const h = await startHarness({
      idleTimeoutMs: 300,
      maxStreams: 2,
      resolveEndpoint: async () => ({ protocol: 'rfb', socketPath: xvnc.socketPath }),
    });
    try {
      const a = new RfbTestClient((await wsTransport(h.streamUrl(ENV), h.origin)).transport);
      const b = new RfbTestClient((await wsTransport(h.streamUrl(ENV), h.origin)).transport);
      await a.handshake();
      await b.handshake();
      expect(await refusedStatus(h.streamUrl(ENV), h.origin)).toBe(503);
      // Update requests are not user input: the stream still idles out.
      a.requestUpdate(false);
      const closed = await a.closed();
      expect(closed.code).toBe(CLOSE_CODES.idleTimeout);
      expect(closed.reason).toMatch(/without input/);
      await b.closed();
    } finally {
      await h.close();
    }
  });
});
