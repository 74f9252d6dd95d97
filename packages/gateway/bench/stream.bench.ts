/**
 * `npm run bench:stream`: the Streaming Gateway's figures on this machine.
 *
 * - keystroke-to-FramebufferUpdate latency p50/p99, typing into a real xterm on a real Xvnc, through
 *   the gateway and directly on the Unix socket (their ratio is the gateway's cost), and through a
 *   bare TCP <-> Unix relay in the same child process (the floor of any proxy in its own process:
 *   what is left above it is the gateway's own work: WebSocket framing, checks, metrics);
 * - bytes per second on an idle desktop and while typing (payload bytes, both directions);
 * - proxy throughput with a synthetic RFB server (MB/s, through the gateway and direct);
 * - memory per stream (gateway process RSS and heap with 50 open streams).
 *
 * The gateway runs in a child process (as in the daemon) so it does not share an event loop with the
 * benchmark's clients. Prints numbers; asserts nothing.
 */
import { spawn } from 'node:child_process';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type WebSocket from 'ws';
import type { StreamEndpoint, StreamStats } from '../src/index.js';
import { startHarness } from '../test/helpers/harness.js';
import type { Transport } from '../test/helpers/rfb-test-client.js';
import { RfbTestClient, unixTransport, wsTransport } from '../test/helpers/rfb-test-client.js';
import { startSyntheticRfbServer } from '../test/helpers/synthetic-rfb-server.js';
import { hasXvnc, startXvnc } from '../test/helpers/xvnc.js';

type Ask = { type: 'url'; envId: string } | { type: 'mem' } | { type: 'stats' } | { type: 'relay' };
type Request = Ask & { id: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// Child: the gateway behind an HTTP server, answering requests over IPC.
async function child(endpoints: Record<string, StreamEndpoint>): Promise<void> {
  const h = await startHarness({
    maxStreams: 1_000,
    tokenOptions: { maxOutstanding: 10_000 },
    resolveEndpoint: async (envId) => endpoints[envId],
  });
  // The reference relay: bytes copied between a loopback TCP connection and the desktop's socket,
  // nothing else (no WebSocket, no checks, no metrics).
  const relay = createServer((c) => {
    c.setNoDelay(true);
    const u = createConnection({ path: endpoints['env_desktop']?.socketPath ?? '' });
    c.pipe(u);
    u.pipe(c);
    const end = () => {
      c.destroy();
      u.destroy();
    };
    c.on('error', end).on('close', end);
    u.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const relayPort = (relay.address() as AddressInfo).port;
  process.on('message', (m: Request) => {
    if (m.type === 'relay') process.send?.({ id: m.id, value: relayPort });
    else if (m.type === 'url')
      process.send?.({ id: m.id, value: { url: h.streamUrl(m.envId), origin: h.origin } });
    else if (m.type === 'mem') {
      global.gc?.();
      process.send?.({ id: m.id, value: process.memoryUsage() });
    } else process.send?.({ id: m.id, value: h.gateway.stats() });
  });
  process.on('disconnect', () => {
    relay.close();
    void h.close().then(() => process.exit(0));
  });
  process.send?.({ id: 0, value: 'ready' });
}

class GatewayProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, (v: unknown) => void>();
  private constructor(private readonly proc: ChildProcess) {
    proc.on('message', (m: { id: number; value: unknown }) => {
      this.waiting.get(m.id)?.(m.value);
      this.waiting.delete(m.id);
    });
  }

  static async start(endpoints: Record<string, StreamEndpoint>): Promise<GatewayProcess> {
    const proc = spawn(
      process.execPath,
      [
        ...process.execArgv,
        '--expose-gc',
        fileURLToPath(import.meta.url),
        '--gateway-child',
        JSON.stringify(endpoints),
      ],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    const g = new GatewayProcess(proc);
    await new Promise<void>((r) => g.waiting.set(0, () => r()));
    return g;
  }

  private ask<T>(req: Ask): Promise<T> {
    const id = this.nextId++;
    return new Promise((r) => {
      this.waiting.set(id, r as (v: unknown) => void);
      this.proc.send({ ...req, id });
    });
  }

  async open(envId: string): Promise<{ transport: Transport; ws: WebSocket }> {
    const { url, origin } = await this.ask<{ url: string; origin: string }>({ type: 'url', envId });
    return wsTransport(url, origin);
  }

  mem(): Promise<NodeJS.MemoryUsage> {
    return this.ask({ type: 'mem' });
  }

  stats(): Promise<StreamStats[]> {
    return this.ask({ type: 'stats' });
  }

  /** A connection through the child's bare TCP relay to the desktop. */
  async relay(): Promise<Transport> {
    const port = await this.ask<number>({ type: 'relay' });
    return new Promise((resolve, reject) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.setNoDelay(true);
      s.once('error', reject);
      s.once('connect', () =>
        resolve({
          write: (d) => s.write(d),
          onData: (fn) => s.on('data', fn),
          onClose: (fn) => s.on('close', () => fn(1000, '')),
          close: () => s.destroy(),
        }),
      );
    });
  }

  stop(): void {
    this.proc.disconnect();
  }
}

// ------------------------------------------------------------------------------------------------

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

const XK_a = 0x61;

/** Keys typed since the start (a..z cycling, so every key changes the screen). */
let typed = 0;
let missed = 0;

/** Types letters into the xterm; each key's time to the next FramebufferUpdate. */
async function keystrokeLatency(c: RfbTestClient, samples: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples + 5; i++) {
    await sleep(15);
    const next = c.nextUpdate();
    c.requestUpdate(true);
    const t0 = performance.now();
    c.key(XK_a + (typed++ % 26));
    const u = await Promise.race([next, sleep(1_000).then(() => undefined)]);
    if (!u) {
      missed++;
      if (missed > samples / 4)
        throw new Error('keys cause no FramebufferUpdate: is xterm focused?');
      continue;
    }
    if (i >= 5) out.push(u.at - t0);
  }
  return out;
}

async function main(): Promise<void> {
  if (!hasXvnc()) {
    console.log(
      'bench:stream: Xvnc is not installed (tigervnc-standalone-server); nothing to measure.',
    );
    return;
  }
  const xvnc = await startXvnc('1024x768');
  const synth = await startSyntheticRfbServer(1024, 768);
  let gw: GatewayProcess | undefined;
  try {
    const xterm = xvnc.spawnClient('xterm', ['-geometry', '80x24+0+0', '-e', 'cat']);
    gw = await GatewayProcess.start({
      env_desktop: { protocol: 'rfb', socketPath: xvnc.socketPath },
      env_synth: { protocol: 'rfb', socketPath: synth.socketPath },
    });
    await sleep(1_500); // xterm maps and paints
    if (xterm.exitCode !== null)
      throw new Error('xterm exited; is it installed (scripts/setup.sh)?');

    // --- latency -------------------------------------------------------------------------------
    const N = 200;
    const direct = new RfbTestClient(await unixTransport(xvnc.socketPath));
    await direct.handshake();
    // No window manager: keyboard focus follows the pointer, so put it inside the xterm.
    direct.pointer(100, 100);
    let u = direct.nextUpdate();
    direct.requestUpdate(false);
    await u;
    const via = new RfbTestClient((await gw.open('env_desktop')).transport);
    await via.handshake();
    u = via.nextUpdate();
    via.requestUpdate(false);
    await u;
    const bare = new RfbTestClient(await gw.relay());
    await bare.handshake();
    u = bare.nextUpdate();
    bare.requestUpdate(false);
    await u;
    // Interleave rounds so drift on a shared machine hits all alike.
    const dLat: number[] = [];
    const gLat: number[] = [];
    const rLat: number[] = [];
    for (let round = 0; round < 8; round++) {
      dLat.push(...(await keystrokeLatency(direct, N / 8)));
      rLat.push(...(await keystrokeLatency(bare, N / 8)));
      gLat.push(...(await keystrokeLatency(via, N / 8)));
    }
    bare.close();
    const g50 = pct(gLat, 50);
    const d50 = pct(dLat, 50);
    console.log(
      `keystroke -> FramebufferUpdate (xterm on Xvnc 1024x768, ${gLat.length}/${dLat.length} samples, ${missed} keys without an update)`,
    );
    console.log(
      `  through gateway: p50 ${g50.toFixed(2)} ms, p99 ${pct(gLat, 99).toFixed(2)} ms   (target p50 <= 25 ms)`,
    );
    console.log(`  direct socket:   p50 ${d50.toFixed(2)} ms, p99 ${pct(dLat, 99).toFixed(2)} ms`);
    const r50 = pct(rLat, 50);
    console.log(
      `  bare TCP relay:  p50 ${r50.toFixed(2)} ms, p99 ${pct(rLat, 99).toFixed(2)} ms   (a proxy hop and nothing else)`,
    );
    console.log(
      `  gateway cost:    ${(g50 / d50).toFixed(3)}x at p50, ${(pct(gLat, 99) / pct(dLat, 99)).toFixed(3)}x at p99   (target <= 1.1x)`,
    );
    console.log(
      `  gateway vs bare relay: ${(g50 / r50).toFixed(3)}x at p50 (the gateway's own work above the hop)`,
    );
    const probe = (await gw.stats()).find((s) => s.envId === 'env_desktop')?.inputToUpdateMs;
    if (probe)
      console.log(
        `  gateway's own input->update probe: p50 ${probe.p50.toFixed(2)} ms, p99 ${probe.p99.toFixed(2)} ms (${probe.samples} samples)`,
      );
    direct.close();

    // --- bytes per second, idle and typing (a noVNC-like client: request after each update) ----
    let isRunning = true;
    const continuous = (async () => {
      while (isRunning) {
        const next = via.nextUpdate();
        via.requestUpdate(true);
        await Promise.race([next, sleep(1_000)]);
      }
    })();
    const bytesNow = async () => {
      const s = (await gw!.stats()).find((x) => x.envId === 'env_desktop')!;
      return s.bytesToClient + s.bytesFromClient;
    };
    await sleep(500);
    let b0 = await bytesNow();
    await sleep(5_000);
    const idle = ((await bytesNow()) - b0) / 5;
    b0 = await bytesNow();
    const typingUntil = performance.now() + 5_000;
    let i = 0;
    while (performance.now() < typingUntil) {
      via.key(XK_a + (i++ % 26));
      await sleep(100);
    }
    const typing = ((await bytesNow()) - b0) / 5;
    isRunning = false;
    await continuous;
    console.log(`bytes per second (payload, both directions, Raw encoding)`);
    console.log(`  idle desktop:        ${idle.toFixed(0)} B/s   (target <= 1 KB/s)`);
    console.log(`  typing 10 keys/s:    ${(typing / 1024).toFixed(1)} KiB/s`);
    via.close();

    // --- throughput -------------------------------------------------------------------------------
    const frame = 1024 * 768 * 4;
    const through = async (c: RfbTestClient) => {
      await c.handshake();
      const until = performance.now() + 3_000;
      let n = 0;
      while (performance.now() < until) {
        const next = c.nextUpdate();
        c.requestUpdate(false);
        await next;
        n++;
      }
      c.close();
      return (n * frame) / 1e6 / 3;
    };
    const tDirect = await through(new RfbTestClient(await unixTransport(synth.socketPath)));
    const tGateway = await through(new RfbTestClient((await gw.open('env_synth')).transport));
    console.log(`proxy throughput (synthetic server, 3 MiB raw frames, one stream)`);
    console.log(
      `  through gateway: ${tGateway.toFixed(0)} MB/s; direct socket: ${tDirect.toFixed(0)} MB/s`,
    );

    // --- memory per stream --------------------------------------------------------------------------
    await sleep(300);
    const m0 = await gw.mem();
    const STREAMS = 50;
    const open: RfbTestClient[] = [];
    for (let k = 0; k < STREAMS; k++) {
      const c = new RfbTestClient((await gw.open('env_synth')).transport);
      await c.handshake();
      open.push(c);
    }
    await sleep(300);
    const m1 = await gw.mem();
    console.log(`memory per open idle stream (gateway process, ${STREAMS} streams)`);
    console.log(
      `  rss +${((m1.rss - m0.rss) / STREAMS / 1024).toFixed(1)} KiB/stream, heap +${((m1.heapUsed - m0.heapUsed) / STREAMS / 1024).toFixed(1)} KiB/stream, ` +
        `buffers +${((m1.arrayBuffers - m0.arrayBuffers) / STREAMS / 1024).toFixed(1)} KiB/stream`,
    );
    for (const c of open) c.close();
  } finally {
    gw?.stop();
    await synth.stop();
    await xvnc.stop();
  }
}

if (process.argv[2] === '--gateway-child') {
  await child(JSON.parse(process.argv[3] ?? '{}') as Record<string, StreamEndpoint>);
} else {
  await main();
}
