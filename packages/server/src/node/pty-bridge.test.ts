import { connect } from 'node:net';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Emitter, nullLogger } from '@virtos/core';
import {
  PTY_FRAME_CONTROL,
  PTY_FRAME_DATA,
  PtyFrameDecoder,
  encodePtyFrame,
  encodePtyResize,
} from '@virtos/gateway';
import { FakeDriver, type DriverSpec, type PtySession } from '@virtos/runtime';
import { PtyBridges } from './pty-bridge.js';

const spec: DriverSpec = {
  display: 'terminal',
  security: {
    isolation: 'standard',
    capabilities: [],
    seccompProfile: 'default',
    readOnlyRoot: true,
  },
  resources: { cpus: 1, memoryMiB: 128, diskMiB: 256, gpus: 0 },
};
const ctx = { signal: new AbortController().signal };

describe('PtyBridges (fake driver)', () => {
  let dir = '';
  let bridges: PtyBridges | undefined;
  afterEach(async () => {
    bridges?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  async function setup(): Promise<{ bridges: PtyBridges; socket: string; driver: FakeDriver }> {
    dir = await mkdtemp(join(tmpdir(), 'virtos-ptyb-'));
    const driver = new FakeDriver();
    await driver.create(ctx, { id: 'e1', spec, rootfs: '/nonexistent' });
    await driver.start(ctx, 'e1');
    bridges = new PtyBridges({
      dir: join(dir, 'pty'),
      open: (envId, req) => driver.openPty(ctx, envId, req),
      logger: nullLogger,
    });
    return { bridges, socket: await bridges.endpoint('e1'), driver };
  }

  it('serves a shell: resize applies before later input, exit frame then end', async () => {
    const { socket } = await setup();
    expect((await stat(join(dir, 'pty'))).mode & 0o777).toBe(0o700);
    expect((await stat(socket)).mode & 0o777).toBe(0o600);
    const sock = connect(socket);
    const decoder = new PtyFrameDecoder();
    let text = '';
    const controls: unknown[] = [];
    sock.on('data', (d: Buffer) => {
      for (const f of decoder.feed(d)) {
        if (f.type === PTY_FRAME_DATA) text += Buffer.from(f.payload).toString('utf8');
        else controls.push(JSON.parse(Buffer.from(f.payload).toString('utf8')));
      }
    });
    const ended = new Promise<void>((r) => sock.on('close', () => r()));
    sock.write(encodePtyResize(132, 43));
    sock.write(encodePtyFrame(PTY_FRAME_DATA, Buffer.from('stty size\r')));
    // Unknown control messages are ignored.
    sock.write(encodePtyFrame(PTY_FRAME_CONTROL, Buffer.from('{"type":"later"}')));
    sock.write(encodePtyFrame(PTY_FRAME_DATA, Buffer.from('exit 5\r')));
    await ended;
    expect(text).toContain('43 132\r\n');
    expect(controls).toEqual([{ type: 'exit', code: 5 }]);
  });

  it('close() ends the bridge: its socket is gone and a second endpoint is a new one', async () => {
    const { bridges: b, socket } = await setup();
    expect(b.stats()).toEqual({ bridges: 1, shells: 0 });
    b.close('e1');
    await expect(stat(socket)).rejects.toThrow();
    expect(b.stats().bridges).toBe(0);
    const again = await b.endpoint('e1');
    expect(again).not.toBe(socket);
    b.dispose();
    await expect(b.endpoint('e1')).rejects.toThrow();
  });
});

describe('PtyBridges backpressure', () => {
  it('pauses a flooding program while the reader lags and resumes it when the reader drains', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtos-ptyb-'));
    const data = new Emitter<Uint8Array>();
    const calls: string[] = [];
    let paused = false;
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    // A program that writes as fast as it may: 64 KiB chunks until it is paused.
    const pump = (): void => {
      while (!paused && sent < 64 * 1024 * 1024) {
        sent += chunk.length;
        data.fire(chunk);
      }
    };
    const session: PtySession = {
      onData: data.event,
      exit: new Promise(() => undefined),
      write: () => undefined,
      resize: async () => undefined,
      pause: () => {
        paused = true;
        calls.push('pause');
      },
      resume: () => {
        paused = false;
        calls.push('resume');
        setImmediate(pump);
      },
      kill: () => undefined,
    };
    const b = new PtyBridges({
      dir: join(dir, 'pty'),
      open: async () => {
        setImmediate(pump);
        return session;
      },
      logger: nullLogger,
    });
    try {
      const sock = connect(await b.endpoint('e1'));
      sock.pause();
      await new Promise<void>((r) => sock.once('connect', () => r()));
      await vi.waitFor(() => expect(calls).toEqual(['pause']));
      // Paused long before the 64 MiB the program would have written: the daemon holds little.
      expect(sent).toBeLessThan(8 * 1024 * 1024);
      const before = sent;
      sock.resume();
      await vi.waitFor(() => expect(calls.slice(0, 2)).toEqual(['pause', 'resume']));
      await vi.waitFor(() => expect(sent).toBeGreaterThan(before));
      sock.destroy();
    } finally {
      b.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
