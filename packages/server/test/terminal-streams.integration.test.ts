/**
 * Terminal environments through the daemon, with the REAL runtime: a shell over `/streams/<id>`
 * (the daemon's PTY bridge, the runtime's PTY exec inside the sandbox) sees a resize, echoes, and
 * reports its exit code; stream-token rules hold for terminals; the exec API streams output while
 * the command still runs; suspending ends the stream and the bridge.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { EnvironmentRecord } from '@virtos/orchestrator';
import { startInProcess, stopInProcess, waitFor, type InProcess } from './in-process.js';
import { realRuntimeSkipReason } from './real-runtime.js';

const skip = await realRuntimeSkipReason();

/** A terminal stream: terminal text so far, `until` a pattern shows up, control messages. */
interface Term {
  readonly ws: WebSocket;
  text(): string;
  until(re: RegExp): Promise<void>;
  readonly controls: unknown[];
  readonly closed: Promise<{ code: number; reason: string }>;
}

function openTerm(url: string, origin: string): Promise<Term> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], { origin });
    let text = '';
    const controls: unknown[] = [];
    const waiters: { re: RegExp; done: () => void }[] = [];
    const check = (): void => {
      for (const w of waiters.splice(0)) {
        if (w.re.test(text)) w.done();
        else waiters.push(w);
      }
    };
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      if (isBinary) text += d.toString('utf8');
      else controls.push(JSON.parse(d.toString('utf8')));
      check();
    });
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.on('close', (code, reason) => res({ code, reason: reason.toString('utf8') })),
    );
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
      res.resume();
    });
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        controls,
        closed,
        text: () => text,
        // A deadline only to fail with what the terminal showed, instead of a bare test timeout.
        until: (re) =>
          re.test(text)
            ? Promise.resolve()
            : new Promise<void>((done, fail) => {
                const timer = setTimeout(
                  () => fail(new Error(`${re} not seen; terminal: ${JSON.stringify(text)}`)),
                  30_000,
                );
                waiters.push({
                  re,
                  done: () => {
                    clearTimeout(timer);
                    done();
                  },
                });
              }),
      }),
    );
  });
}

async function refusedStatus(url: string, origin: string): Promise<number> {
  try {
    const t = await openTerm(url, origin);
    t.ws.close();
    return 101;
  } catch (e) {
    return (e as { status?: number }).status ?? -1;
  }
}

describe.skipIf(skip !== undefined)(
  `terminal streams through the daemon (real runtime)${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let p: InProcess | undefined;
    let id = '';
    let issue: () => Promise<{ token: string; url: string }>;
    beforeAll(async () => {
      p = await startInProcess();
      const { client, daemon, token: session } = p;
      const out = (await client.create({ request: 'a debian terminal' }, { wait: true })) as {
        record: EnvironmentRecord;
      };
      id = (await waitFor(client, out.record.id, (r) => r.state === 'running')).id;
      issue = async () => {
        const res = await fetch(`${daemon.url}/api/environments/${id}/stream-token`, {
          method: 'POST',
          headers: { authorization: `Bearer ${session}` },
        });
        expect(res.status).toBe(200);
        return (await res.json()) as { token: string; url: string };
      };
    }, 300_000);
    afterAll(async () => {
      await stopInProcess(p);
    }, 120_000);

    it('a login shell over /streams: resize seen by stty, echo, exit code 3', async () => {
      const { daemon } = p!;
      const ws = daemon.url.replace(/^http/, 'ws');
      const t = await issue();
      const term = await openTerm(`${ws}${t.url}`, daemon.url);
      // The bridge applies a resize before any input that follows it.
      term.ws.send(JSON.stringify({ type: 'resize', cols: 123, rows: 45 }));
      term.ws.send(Buffer.from('stty size\r'));
      await term.until(/45 123/);
      term.ws.send(Buffer.from('echo h""i\r'));
      await term.until(/\rhi\r\n/);
      term.ws.send(Buffer.from('id -u\r'));
      await term.until(/\r1000\r\n/);
      term.ws.send(Buffer.from('exit 3\r'));
      const closed = await term.closed;
      expect(term.controls).toEqual([{ type: 'exit', code: 3 }]);
      expect(closed.code).toBe(4004);
    }, 120_000);

    it('stream tokens for terminals: none, reused and other-env tokens are refused', async () => {
      const { daemon } = p!;
      const ws = daemon.url.replace(/^http/, 'ws');
      expect(await refusedStatus(`${ws}/streams/${id}`, daemon.url)).toBe(401);
      const t = await issue();
      // A token bound to this environment does not open another one (and is burnt by trying).
      expect(await refusedStatus(`${ws}/streams/env_other?token=${t.token}`, daemon.url)).toBe(401);
      expect(await refusedStatus(`${ws}${t.url}`, daemon.url)).toBe(401);
      const t2 = await issue();
      expect(await refusedStatus(`${ws}${t2.url}`, 'http://evil.example')).toBe(403);
      const term = await openTerm(`${ws}${t2.url}`, daemon.url);
      expect(await refusedStatus(`${ws}${t2.url}`, daemon.url)).toBe(401);
      term.ws.close();
      await term.closed;
    }, 120_000);

    it('exec streams: the first chunk arrives while the command still runs', async () => {
      const { client } = p!;
      const go = '/tmp/go-streamed-exec';
      const seen: string[] = [];
      let touched: Promise<number> | undefined;
      const code = await client.exec(
        id,
        { args: ['/bin/sh', '-c', `echo a; until [ -e ${go} ]; do sleep 0.05; done; echo b`] },
        {
          stdout: (s) => {
            seen.push(s);
            // Only after 'a' arrived does the command get the file it waits for.
            touched ??= client.exec(
              id,
              { args: ['touch', go] },
              { stdout: () => undefined, stderr: () => undefined },
            );
          },
          stderr: () => undefined,
        },
      );
      expect(code).toBe(0);
      expect(await touched).toBe(0);
      expect(seen.join('')).toBe('a\nb\n');
      expect(seen[0]).toBe('a\n');
    }, 120_000);

    it('suspending ends the shell stream (4001) and removes the bridge socket', async () => {
      const { daemon, client, home } = p!;
      const ws = daemon.url.replace(/^http/, 'ws');
      const term = await openTerm(`${ws}${(await issue()).url}`, daemon.url);
      term.ws.send(Buffer.from('echo ready\r'));
      await term.until(/\rready\r\n/);
      const dir = join(home, 'run', 'pty');
      expect(readdirSync(dir).filter((f) => f.endsWith('.sock'))).toHaveLength(1);
      await client.suspend(id);
      expect((await term.closed).code).toBe(4001);
      expect(existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.sock')) : []).toEqual(
        [],
      );
      await client.resume(id);
      const again = await openTerm(`${ws}${(await issue()).url}`, daemon.url);
      again.ws.send(Buffer.from('echo back\r'));
      await again.until(/\rback\r\n/);
      again.ws.close();
      await again.closed;
    }, 120_000);
  },
);
