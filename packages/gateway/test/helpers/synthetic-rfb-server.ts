/**
 * A synthetic RFB server on a Unix socket for load tests and the throughput bench: version 3.8,
 * security None, and one Raw full-screen FramebufferUpdate per FramebufferUpdateRequest. It honours
 * backpressure (waits for 'drain'), so a slow client slows it instead of growing its buffers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running synthetic server. */
export interface SyntheticRfbServer {
  readonly socketPath: string;
  /** Connections accepted so far. */
  connections(): number;
  stop(): Promise<void>;
}

export async function startSyntheticRfbServer(
  width = 256,
  height = 256,
): Promise<SyntheticRfbServer> {
  const dir = mkdtempSync(join(tmpdir(), 'virtos-gw-synth-'));
  const socketPath = join(dir, 'rfb.sock');
  const update = Buffer.alloc(4 + 12 + width * height * 4, 0x5a);
  update.writeUInt8(0, 0);
  update.writeUInt16BE(1, 2);
  update.writeUInt32BE(0, 4); // x, y
  update.writeUInt16BE(width, 8);
  update.writeUInt16BE(height, 10);
  update.writeInt32BE(0, 12); // Raw
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((s) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.write('RFB 003.008\n');
    let stage = 0;
    let buf = Buffer.alloc(0);
    let pendingRequests = 0;
    let isSending = false;
    const pump = () => {
      if (isSending) return;
      while (pendingRequests > 0) {
        pendingRequests--;
        if (!s.write(update)) {
          isSending = true;
          s.once('drain', () => {
            isSending = false;
            pump();
          });
          return;
        }
      }
    };
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (stage === 0 && buf.length >= 12) {
          buf = buf.subarray(12);
          s.write(Uint8Array.of(1, 1)); // one type: None
          stage = 1;
        } else if (stage === 1 && buf.length >= 1) {
          buf = buf.subarray(1);
          s.write(Buffer.alloc(4)); // SecurityResult OK
          stage = 2;
        } else if (stage === 2 && buf.length >= 1) {
          buf = buf.subarray(1);
          const name = Buffer.from('synthetic');
          const init = Buffer.alloc(24);
          init.writeUInt16BE(width, 0);
          init.writeUInt16BE(height, 2);
          init.set([32, 24, 0, 1], 4);
          init.writeUInt16BE(255, 8);
          init.writeUInt16BE(255, 10);
          init.writeUInt16BE(255, 12);
          init.set([16, 8, 0], 14);
          init.writeUInt32BE(name.length, 20);
          s.write(Buffer.concat([init, name]));
          stage = 3;
        } else if (stage === 3 && buf.length >= 1) {
          const type = buf[0];
          const len =
            type === 0
              ? 20
              : type === 2
                ? buf.length >= 4
                  ? 4 + 4 * buf.readUInt16BE(2)
                  : -1
                : type === 3
                  ? 10
                  : type === 4
                    ? 8
                    : type === 5
                      ? 6
                      : -2;
          if (len === -2) {
            s.destroy();
            return;
          }
          if (len < 0 || buf.length < len) break;
          if (type === 3) pendingRequests++;
          buf = buf.subarray(len);
        } else {
          break;
        }
      }
      pump();
    });
  });
  await new Promise<void>((r) => server.listen(socketPath, () => r()));
  return {
    socketPath,
    connections: () => count,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
