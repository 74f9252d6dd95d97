/**
 * `npm run bench:pty`: keystroke -> echo latency of a terminal environment's shell, with the real
 * runtime (needs root; prints the reason and exits otherwise):
 * - through the daemon: WebSocket `/streams/<id>` -> gateway -> PTY bridge -> runtime PTY exec;
 * - direct: the orchestrator's `openPty` in the same process (no gateway, no bridge), as baseline.
 * One printable key at a time; the time until its echo comes back. Prints figures; asserts nothing.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { EnvironmentRecord } from '@virtos/orchestrator';
import { startInProcess, stopInProcess, waitFor, type InProcess } from '../test/in-process.js';
import { realRuntimeSkipReason } from '../test/real-runtime.js';

const KEYS = Number(process.env['BENCH_PTY_KEYS'] ?? 300);

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** Measures echo latency with `send` (one key) and output arriving through `onOutput`. */
async function measure(
  send: (key: string) => void,
  onOutput: (listener: (text: string) => void) => void,
): Promise<number[]> {
  let waiting: { key: string; done: () => void } | undefined;
  let buffer = '';
  onOutput((t) => {
    buffer += t;
    if (waiting && buffer.includes(waiting.key)) {
      const w = waiting;
      waiting = undefined;
      w.done();
    }
  });
  const typeOne = (key: string): Promise<number> =>
    new Promise((resolve) => {
      buffer = '';
      const t0 = performance.now();
      waiting = { key, done: () => resolve(performance.now() - t0) };
      send(key);
    });
  const out: number[] = [];
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; i < KEYS; i++) {
    if (i > 0 && i % 60 === 0) {
      // Clear the line (Ctrl-U) so the prompt line does not wrap; not measured.
      await new Promise<void>((resolve) => {
        buffer = '';
        waiting = { key: '$ ', done: resolve };
        send('\x15');
        setTimeout(resolve, 200);
      });
      waiting = undefined;
    }
    out.push(await typeOne(letters[i % letters.length] as string));
  }
  return out;
}

function print(name: string, xs: number[]): void {
  console.log(
    `${name}: keys ${xs.length}, echo p50 ${percentile(xs, 50).toFixed(2)} ms, p99 ${percentile(xs, 99).toFixed(2)} ms`,
  );
}

async function main(): Promise<void> {
  const skip = await realRuntimeSkipReason();
  if (skip) {
    console.log(`bench:pty skipped: ${skip}`);
    return;
  }
  let p: InProcess | undefined;
  try {
    p = await startInProcess();
    const { client, daemon, token } = p;
    const out = (await client.create({ request: 'a debian terminal' }, { wait: true })) as {
      record: EnvironmentRecord;
    };
    const id = (await waitFor(client, out.record.id, (r) => r.state === 'running')).id;

    // Through the daemon's gateway and PTY bridge.
    const res = await fetch(`${daemon.url}/api/environments/${id}/stream-token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    const { url } = (await res.json()) as { url: string };
    const ws = new WebSocket(daemon.url.replace(/^http/, 'ws') + url, ['binary'], {
      origin: daemon.url,
    });
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const listeners: ((t: string) => void)[] = [];
    let seen = '';
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      seen += d.toString('utf8');
      for (const l of listeners) l(d.toString('utf8'));
    });
    while (!seen.includes('$ ')) await new Promise((r) => setTimeout(r, 20));
    print(
      'gateway (WebSocket -> bridge -> PTY)',
      await measure(
        (k) => ws.send(Buffer.from(k), { binary: true }),
        (l) => listeners.push(l),
      ),
    );
    ws.close();

    // Direct: the runtime's PTY session in this process.
    const pty = await daemon.state.current().openPty(id, { cols: 80, rows: 24 });
    const direct: ((t: string) => void)[] = [];
    let seenDirect = '';
    pty.onData((d) => {
      const t = Buffer.from(d).toString('utf8');
      seenDirect += t;
      for (const l of direct) l(t);
    });
    while (!seenDirect.includes('$ ')) await new Promise((r) => setTimeout(r, 20));
    print(
      'direct (runtime PTY session)',
      await measure(
        (k) => pty.write(k),
        (l) => direct.push(l),
      ),
    );
    pty.kill();
  } finally {
    await stopInProcess(p);
  }
}

await main();
