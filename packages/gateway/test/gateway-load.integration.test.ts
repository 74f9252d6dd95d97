/**
 * Load: 100 concurrent synthetic RFB clients through one gateway, a tenth of them never reading.
 * Shows that memory stays bounded: every stream's buffer stays under the high-water mark plus one
 * chunk, and the process's heap and RSS are printed before, during and after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayHarness } from './helpers/harness.js';
import { startHarness } from './helpers/harness.js';
import { RfbTestClient, wsTransport } from './helpers/rfb-test-client.js';
import type { SyntheticRfbServer } from './helpers/synthetic-rfb-server.js';
import { startSyntheticRfbServer } from './helpers/synthetic-rfb-server.js';

const CLIENTS = 100;
const SLOW = 10;
const HIGH_WATER = 256 * 1024;
const MiB = 1024 * 1024;

function mem(label: string): { heap: number; rss: number } {
  global.gc?.();
  const m = process.memoryUsage();
  const out = { heap: m.heapUsed, rss: m.rss };
  console.log(
    `[load] ${label}: heapUsed ${(out.heap / MiB).toFixed(1)} MiB, rss ${(out.rss / MiB).toFixed(1)} MiB, ` +
      `external ${(m.external / MiB).toFixed(1)} MiB, arrayBuffers ${(m.arrayBuffers / MiB).toFixed(1)} MiB`,
  );
  return out;
}

describe('gateway under load', () => {
  let server: SyntheticRfbServer;
  let h: GatewayHarness;

  beforeAll(async () => {
    server = await startSyntheticRfbServer(256, 256);
    h = await startHarness({
      maxStreams: CLIENTS + 10,
      highWaterMarkBytes: HIGH_WATER,
      tokenOptions: { maxOutstanding: 1_000 },
      resolveEndpoint: async () => ({ protocol: 'rfb', socketPath: server.socketPath }),
    });
  });

  afterAll(async () => {
    await h?.close();
    await server?.stop();
  });

  it(`carries ${CLIENTS} concurrent streams with bounded memory`, { timeout: 30_000 }, async () => {
    mem('before');
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const { transport, ws } = await wsTransport(h.streamUrl(`env_load${i}`), h.origin);
        const c = new RfbTestClient(transport);
        await c.handshake();
        return { c, ws, isSlow: i < SLOW };
      }),
    );
    expect(h.gateway.streamCount).toBe(CLIENTS);
    // Slow clients ask for many updates and then stop reading their socket entirely.
    for (const { c, ws, isSlow } of clients) {
      if (isSlow) {
        for (let k = 0; k < 200; k++) c.requestUpdate(false);
        ws.pause();
      }
    }
    // Fast clients request an update after each one, for 3 s.
    const until = performance.now() + 3_000;
    let total = 0;
    await Promise.all(
      clients
        .filter((x) => !x.isSlow)
        .map(async ({ c }) => {
          while (performance.now() < until) {
            const u = c.nextUpdate();
            c.requestUpdate(false);
            await u;
            total++;
          }
        }),
    );
    mem('during (100 streams open, 10 stalled)');
    const stats = h.gateway.stats();
    const slowIds = new Set(clients.slice(0, SLOW).map((_, i) => `env_load${i}`));
    let maxBuffered = 0;
    let pauses = 0;
    for (const s of stats) {
      maxBuffered = Math.max(maxBuffered, s.bufferedToClient);
      if (slowIds.has(s.envId)) pauses += s.pausesForClient;
      expect(s.parserSynced).toBe(true);
    }
    const mbps = (total * 256 * 256 * 4) / MiB / 3;
    console.log(
      `[load] ${total} full updates to ${CLIENTS - SLOW} readers in 3 s (${mbps.toFixed(0)} MiB/s); ` +
        `max per-stream buffered ${(maxBuffered / 1024).toFixed(0)} KiB (limit ${HIGH_WATER / 1024} KiB + one update), ` +
        `pauses on stalled streams ${pauses}`,
    );
    // Each stalled stream holds at most the high-water mark plus the update that crossed it.
    expect(maxBuffered).toBeLessThanOrEqual(HIGH_WATER + 256 * 256 * 4 + 64 * 1024);
    expect(pauses).toBeGreaterThanOrEqual(SLOW);
    // What the gateway holds for all streams together stays bounded by the per-stream limit. (The
    // process RSS printed above also holds the clients' and the synthetic server's buffers, so it
    // is reported, not asserted.)
    const held = stats.reduce((n, s) => n + s.bufferedToClient + s.bufferedToEndpoint, 0);
    console.log(
      `[load] gateway-held buffers across ${CLIENTS} streams: ${(held / MiB).toFixed(1)} MiB`,
    );
    expect(held).toBeLessThanOrEqual(CLIENTS * (HIGH_WATER + 256 * 256 * 4 + 64 * 1024));
    for (const { c, ws } of clients) {
      ws.resume();
      c.close();
    }
    const deadline = Date.now() + 5_000;
    while (h.gateway.streamCount > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(h.gateway.streamCount).toBe(0);
    mem('after');
  });
});
