/**
 * The daemon's PTY bridges: for each running terminal environment, a Unix socket that speaks the
 * gateway's PTY protocol (docs/gateway.md, "PTY bridge protocol"). Every connection gets a fresh
 * login shell in the environment on a real pseudo-terminal (the runtime's PTY exec, under the same
 * sandbox policy as the environment's first process); resize control frames are applied before any
 * input that follows them; `{"type":"exit","code":N}` is sent when the shell ends.
 *
 * Only the gateway connects: the sockets live in a root-only directory (0700) of the daemon's state
 * dir, and the resolver hands a socket path to the gateway only after the stream token was checked.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '@virtos/core';
import {
  PTY_FRAME_CONTROL,
  PTY_FRAME_DATA,
  PTY_MAX_DIMENSION,
  PTY_MAX_PAYLOAD,
  PtyFrameDecoder,
  encodePtyFrame,
} from '@virtos/gateway';
import type { PtyRequest, PtySession } from '@virtos/runtime';
import { ServerErrors } from '../errors.js';

/** Opens a PTY session in an environment (the orchestrator's `openPty`). */
export type PtyOpener = (envId: string, req: PtyRequest) => Promise<PtySession>;

/** Options of {@link PtyBridges}. */
export interface PtyBridgesOptions {
  /** Directory of the sockets; created root-only (0700). Put it on /run. */
  readonly dir: string;
  readonly open: PtyOpener;
  readonly logger: Logger;
  /** Size of a new terminal until the client's first resize (default 80x24). */
  readonly initialSize?: { readonly cols: number; readonly rows: number };
}

interface Bridge {
  readonly server: Server;
  readonly socketPath: string;
  readonly connections: Set<Socket>;
  readonly sessions: Set<PtySession>;
  readonly ready: Promise<void>;
}

/** The PTY bridges of one daemon, one per running terminal environment. */
export class PtyBridges {
  private readonly bridges = new Map<string, Bridge>();
  private dirReady = false;
  private closed = false;

  constructor(private readonly opts: PtyBridgesOptions) {}

  /** The socket path of `envId`'s bridge, starting the bridge when it is not running yet. */
  async endpoint(envId: string): Promise<string> {
    if (this.closed) {
      throw ServerErrors.create('shutting_down', 'The daemon is shutting down.', {
        subject: envId,
        hint: 'Open the terminal again once the daemon runs.',
      });
    }
    let b = this.bridges.get(envId);
    if (!b) {
      b = this.start(envId);
      this.bridges.set(envId, b);
    }
    await b.ready;
    return b.socketPath;
  }

  /** Number of bridges and of open shells (for tests and metrics). */
  stats(): { bridges: number; shells: number } {
    let shells = 0;
    for (const b of this.bridges.values()) shells += b.sessions.size;
    return { bridges: this.bridges.size, shells };
  }

  /** Ends `envId`'s bridge: its shells are killed, its socket removed. Idempotent. */
  close(envId: string): void {
    const b = this.bridges.get(envId);
    if (!b) return;
    this.bridges.delete(envId);
    for (const s of b.sessions) s.kill();
    for (const c of b.connections) c.destroy();
    b.server.close();
    rmSync(b.socketPath, { force: true });
  }

  /** Ends every bridge (daemon shutdown, vault lock). */
  closeAll(): void {
    for (const id of [...this.bridges.keys()]) this.close(id);
  }

  /** Ends every bridge and refuses new ones. */
  dispose(): void {
    this.closed = true;
    this.closeAll();
  }

  private ensureDir(): void {
    if (this.dirReady) return;
    // SECURITY: only root (the daemon, which runs the gateway) may reach the sockets: whoever can
    // connect gets a shell in the environment.
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.opts.dir, 0o700);
    this.dirReady = true;
  }

  private start(envId: string): Bridge {
    this.ensureDir();
    // A random short name: socket paths are limited to 107 bytes and env ids may be long.
    const socketPath = join(this.opts.dir, `${randomBytes(8).toString('hex')}.sock`);
    const connections = new Set<Socket>();
    const sessions = new Set<PtySession>();
    const server = createServer((sock) => {
      connections.add(sock);
      sock.on('close', () => connections.delete(sock));
      this.serve(envId, sock, sessions);
    });
    const ready = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        // SECURITY: the socket itself is root-only too (the directory already is).
        chmodSync(socketPath, 0o600);
        resolve();
      });
    });
    ready.catch(() => this.bridges.delete(envId));
    return { server, socketPath, connections, sessions, ready };
  }

  /** One connection: one login shell, framed both ways. */
  private serve(envId: string, sock: Socket, sessions: Set<PtySession>): void {
    const log = this.opts.logger;
    const decoder = new PtyFrameDecoder();
    const size = this.opts.initialSize ?? { cols: 80, rows: 24 };
    let session: PtySession | undefined;
    let ended = false;
    // Frames are handled strictly in order: input after a resize sees the new size.
    let queue: Promise<void> = this.opts.open(envId, { cols: size.cols, rows: size.rows }).then(
      (s) => {
        session = s;
        if (ended) return s.kill();
        sessions.add(s);
        let held = false;
        s.onData((chunk) => {
          for (let off = 0; off < chunk.length; off += PTY_MAX_PAYLOAD) {
            sock.write(encodePtyFrame(PTY_FRAME_DATA, chunk.subarray(off, off + PTY_MAX_PAYLOAD)));
          }
          // Backpressure: while the gateway has not taken what was written, the program's output
          // is not read (it blocks on its full terminal), so the daemon buffers at most a chunk.
          if (sock.writableNeedDrain && !held) {
            held = true;
            s.pause();
            sock.once('drain', () => {
              held = false;
              s.resume();
            });
          }
        });
        void s.exit.then(({ exitCode }) => {
          sessions.delete(s);
          const msg = JSON.stringify({ type: 'exit', code: exitCode });
          if (!sock.destroyed) sock.end(encodePtyFrame(PTY_FRAME_CONTROL, Buffer.from(msg)));
        });
      },
      (e: unknown) => {
        log.warn('pty bridge: cannot open a shell', { envId, error: String(e) });
        const msg = JSON.stringify({ type: 'exit', code: -1 });
        sock.end(encodePtyFrame(PTY_FRAME_CONTROL, Buffer.from(msg)));
      },
    );
    sock.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.feed(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const f of frames) {
        queue = queue.then(async () => {
          if (!session || ended) return;
          if (f.type === PTY_FRAME_DATA) session.write(f.payload);
          else if (f.type === PTY_FRAME_CONTROL) {
            const resize = parseResize(f.payload);
            if (resize) await session.resize(resize.cols, resize.rows);
          }
        });
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      ended = true;
      session?.kill();
    });
  }
}

/** A `{"type":"resize"}` control message with sane sizes, else undefined (ignored, as unknown). */
function parseResize(payload: Uint8Array): { cols: number; rows: number } | undefined {
  try {
    const v = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
    const ok = (n: unknown): n is number =>
      typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= PTY_MAX_DIMENSION;
    if (v['type'] === 'resize' && ok(v['cols']) && ok(v['rows'])) {
      return { cols: v['cols'], rows: v['rows'] };
    }
  } catch {
    // Not JSON: ignored like an unknown control message.
  }
  return undefined;
}
