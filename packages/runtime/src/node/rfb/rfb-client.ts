/**
 * A minimal RFB (VNC) client over a Unix socket: the handshake of RFB 3.8 with security type None,
 * and reading one full framebuffer in raw encoding at 32 bits per pixel. The driver uses the
 * handshake as its display-readiness check (a server that answers ServerInit is ready); tests and
 * the benchmark read frames with it. Protocol: RFC 6143.
 */
import { lstatSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { throwIfAborted } from '@virtos/core';
import { RuntimeErrors } from '../../common/errors.js';

/** What ServerInit said. */
export interface RfbServerInit {
  readonly width: number;
  readonly height: number;
  readonly name: string;
}

/** A raw frame: width × height pixels, 4 bytes each in R, G, B, X order. */
export interface RfbFrame {
  readonly width: number;
  readonly height: number;
  readonly rgbx: Buffer;
}

/** Reads exact byte counts from a socket. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private error: Error | undefined;

  constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.pump();
    });
    const fail = (e: Error): void => {
      this.error = e;
      const w = this.want;
      this.want = undefined;
      w?.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the RFB server closed the connection')));
  }

  private pump(): void {
    const w = this.want;
    if (w && this.buf.length >= w.n) {
      this.want = undefined;
      const out = this.buf.subarray(0, w.n);
      this.buf = this.buf.subarray(w.n);
      w.resolve(out);
    }
  }

  read(n: number): Promise<Buffer> {
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.want = { n, resolve, reject };
      this.pump();
    });
  }
}

/** An open RFB session after ServerInit. Close it with {@link RfbSession.close}. */
export class RfbSession {
  private constructor(
    private readonly socket: Socket,
    private readonly reader: ByteReader,
    /** What the server announced. */
    readonly init: RfbServerInit,
  ) {}

  /**
   * Connects to `socketPath` and completes ProtocolVersion (3.8), security (None), ClientInit and
   * ServerInit. Refuses a path that is not a socket (e.g. a symlink planted by the sandbox).
   */
  static async connect(socketPath: string, signal: AbortSignal): Promise<RfbSession> {
    throwIfAborted(signal, 'RFB connect');
    // SECURITY: the socket lives in a directory the sandbox user can write; refuse anything that is
    // not a plain socket (a symlink could point the daemon at a host service).
    const st = lstatSync(socketPath);
    if (!st.isSocket()) {
      throw RuntimeErrors.create('failed', `${socketPath} is not a Unix socket.`, {
        subject: socketPath,
      });
    }
    const socket = createConnection(socketPath);
    const onAbort = (): void => {
      socket.destroy(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const reader = new ByteReader(socket);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const version = (await reader.read(12)).toString('latin1');
      if (!/^RFB 003\.00[378]\n$/.test(version)) {
        throw new Error(`unexpected RFB version ${JSON.stringify(version)}`);
      }
      socket.write('RFB 003.008\n');
      const count = (await reader.read(1)).readUInt8(0);
      if (count === 0) {
        const len = (await reader.read(4)).readUInt32BE(0);
        throw new Error(`server refused: ${(await reader.read(len)).toString('utf8')}`);
      }
      const types = [...(await reader.read(count))];
      if (!types.includes(1)) throw new Error(`security None not offered (got ${types.join(',')})`);
      socket.write(Buffer.from([1]));
      const result = (await reader.read(4)).readUInt32BE(0);
      if (result !== 0) throw new Error('security handshake failed');
      socket.write(Buffer.from([1])); // ClientInit: shared
      const head = await reader.read(24);
      const nameLen = head.readUInt32BE(20);
      const name = (await reader.read(nameLen)).toString('utf8');
      return new RfbSession(socket, reader, {
        width: head.readUInt16BE(0),
        height: head.readUInt16BE(2),
        name,
      });
    } catch (e) {
      socket.destroy();
      throwIfAborted(signal, 'RFB connect');
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Requests and reads one full frame (SetPixelFormat 32 bpp, raw encoding, non-incremental). */
  async readFrame(): Promise<RfbFrame> {
    const { width, height } = this.init;
    const pf = Buffer.alloc(20);
    pf.writeUInt8(0, 0); // SetPixelFormat
    pf.writeUInt8(32, 4); // bits per pixel
    pf.writeUInt8(24, 5); // depth
    pf.writeUInt8(0, 6); // little endian
    pf.writeUInt8(1, 7); // true colour
    pf.writeUInt16BE(255, 8);
    pf.writeUInt16BE(255, 10);
    pf.writeUInt16BE(255, 12);
    pf.writeUInt8(0, 14); // red shift
    pf.writeUInt8(8, 15); // green shift
    pf.writeUInt8(16, 16); // blue shift
    const enc = Buffer.alloc(8);
    enc.writeUInt8(2, 0); // SetEncodings
    enc.writeUInt16BE(1, 2);
    enc.writeInt32BE(0, 4); // raw
    const req = Buffer.alloc(10);
    req.writeUInt8(3, 0); // FramebufferUpdateRequest
    req.writeUInt8(0, 1); // not incremental
    req.writeUInt16BE(width, 6);
    req.writeUInt16BE(height, 8);
    this.socket.write(Buffer.concat([pf, enc, req]));

    const rgbx = Buffer.alloc(width * height * 4);
    for (;;) {
      const type = (await this.reader.read(1)).readUInt8(0);
      if (type === 0) {
        const n = (await this.reader.read(3)).readUInt16BE(1);
        for (let i = 0; i < n; i++) {
          const r = await this.reader.read(12);
          const [x, y, w, h] = [
            r.readUInt16BE(0),
            r.readUInt16BE(2),
            r.readUInt16BE(4),
            r.readUInt16BE(6),
          ];
          const encoding = r.readInt32BE(8);
          if (encoding !== 0) throw new Error(`unexpected encoding ${encoding}`);
          const data = await this.reader.read(w * h * 4);
          for (let row = 0; row < h; row++) {
            data.copy(rgbx, ((y + row) * width + x) * 4, row * w * 4, (row + 1) * w * 4);
          }
        }
        return { width, height, rgbx };
      } else if (type === 2) {
        // Bell: nothing follows.
      } else if (type === 3) {
        const len = (await this.reader.read(7)).readUInt32BE(3);
        await this.reader.read(len);
      } else if (type === 1) {
        const h = await this.reader.read(5);
        await this.reader.read(h.readUInt16BE(3) * 6);
      } else {
        throw new Error(`unexpected RFB server message ${type}`);
      }
    }
  }

  /** Closes the connection. */
  close(): void {
    this.socket.destroy();
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Encodes a frame as a PNG (8-bit RGB) with `deflate`; enough for test artifacts. */
export function encodePng(frame: RfbFrame, deflate: (b: Buffer) => Buffer): Buffer {
  const { width, height, rgbx } = frame;
  const raw = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    const o = y * (1 + width * 3);
    raw[o] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 4;
      raw[o + 1 + x * 3] = rgbx[s] as number;
      raw[o + 2 + x * 3] = rgbx[s + 1] as number;
      raw[o + 3 + x * 3] = rgbx[s + 2] as number;
    }
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(2, 9); // colour type RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflate(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Number of distinct colours in a frame (a blank screen has 1). */
export function countColours(frame: RfbFrame, limit = 1000): number {
  const seen = new Set<number>();
  for (let i = 0; i < frame.rgbx.length && seen.size < limit; i += 4) {
    seen.add(frame.rgbx.readUInt32LE(i) & 0xffffff);
  }
  return seen.size;
}
