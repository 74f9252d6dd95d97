/**
 * Terminal streams: the gateway in front of a PTY bridge (a stand-in running a real bash in a real
 * pty), bytes both ways, resize passed through as a control frame, exit reported to the client.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../src/index.js';
import type { GatewayHarness } from './helpers/harness.js';
import { startHarness } from './helpers/harness.js';
import type { PtyBridgeStandIn } from './helpers/pty-bridge-standin.js';
import { startPtyBridgeStandIn } from './helpers/pty-bridge-standin.js';

interface Term {
  ws: WebSocket;
  output(): string;
  texts: string[];
  waitFor(re: RegExp, ms?: number): Promise<string>;
  closed: Promise<{ code: number; reason: string }>;
}

async function openTerm(url: string, origin: string): Promise<Term> {
  const ws = new WebSocket(url, ['binary'], { origin });
  let out = '';
  const texts: string[] = [];
  const listeners: (() => void)[] = [];
  ws.on('message', (d: Buffer, isBinary) => {
    if (isBinary) out += d.toString('utf8');
    else texts.push(d.toString('utf8'));
    for (const l of listeners.splice(0)) l();
  });
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.on('close', (code, reason) => r({ code, reason: reason.toString('utf8') })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    texts,
    output: () => out,
    closed,
    async waitFor(re, ms = 10_000) {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end)
          throw new Error(`timed out waiting for ${re} in ${JSON.stringify(out)}`);
        await new Promise<void>((r) => {
          listeners.push(r);
          setTimeout(r, 100);
        });
      }
      return out;
    },
  };
}

describe('terminal streams through a PTY bridge', () => {
  let bridge: PtyBridgeStandIn;
  let h: GatewayHarness;

  beforeAll(async () => {
    bridge = await startPtyBridgeStandIn();
    h = await startHarness({
      resolveEndpoint: async (envId) =>
        envId === 'env_term1' ? { protocol: 'pty', socketPath: bridge.socketPath } : undefined,
    });
  });

  afterAll(async () => {
    await h?.close();
    await bridge?.stop();
  });

  it('runs a command, passes a resize through, and reports the exit', async () => {
    const t = await openTerm(h.streamUrl('env_term1'), h.origin);
    expect(t.ws.protocol).toBe('binary');
    t.ws.send(Buffer.from('echo hello-$((6*7))\n'), { binary: true });
    await t.waitFor(/hello-42/);
    t.ws.send(JSON.stringify({ type: 'resize', cols: 100, rows: 30 }));
    // Give the bridge a moment to apply the size before asking the shell for it.
    await new Promise((r) => setTimeout(r, 200));
    t.ws.send(Buffer.from('stty size\n'), { binary: true });
    await t.waitFor(/30 100/);
    expect(bridge.controls).toContainEqual({ type: 'resize', cols: 100, rows: 30 });
    const s = h.gateway.stats('env_term1')[0]!;
    expect(s.protocol).toBe('pty');
    expect(s.inputEvents).toBe(2);
    expect(s.bytesToClient).toBeGreaterThan(0);
    t.ws.send(Buffer.from('exit 3\n'), { binary: true });
    const closed = await t.closed;
    expect(t.texts.map((x) => JSON.parse(x) as unknown)).toContainEqual({ type: 'exit', code: 3 });
    expect(closed.code).toBe(CLOSE_CODES.endpointClosed);
  });

  it('closes on any text frame other than a well-formed resize, forwarding nothing', async () => {
    for (const bad of [
      '{"type":"resize","cols":0,"rows":10}',
      '{"type":"resize","cols":1.5,"rows":10}',
      '{"type":"resize","cols":100000,"rows":10}',
      '{"type":"connect","socket":"/tmp/x"}',
      'not json',
    ]) {
      const before = bridge.controls.length;
      const t = await openTerm(h.streamUrl('env_term1'), h.origin);
      t.ws.send(bad);
      expect((await t.closed).code).toBe(CLOSE_CODES.protocolError);
      expect(bridge.controls.length).toBe(before);
    }
  });
});
