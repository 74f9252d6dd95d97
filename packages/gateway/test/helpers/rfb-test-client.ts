/**
 * A minimal RFB client for tests and the bench: version 3.8, security None, 32 bpp true colour,
 * Raw encoding only, so it can read a whole framebuffer. It runs over any byte transport: a
 * WebSocket through the gateway, or the Unix socket directly.
 */
import { createConnection } from 'node:net';
import WebSocket from 'ws';

/** A byte transport. */
export interface Transport {
  write(data: Uint8Array): void;
  onData(fn: (chunk: Buffer) => void): void;
  onClose(fn: (code: number, reason: string) => void): void;
  close(): void;
}

/** Opens a WebSocket through the gateway; rejects with the HTTP status on a refused upgrade. */
export function wsTransport(
  url: string,
  origin: string | undefined,
): Promise<{ transport: Transport; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], origin === undefined ? {} : { origin });
    ws.binaryType = 'nodebuffer';
    ws.once('unexpected-response', (_req, res) => {
      reject(
        Object.assign(new Error(`refused: HTTP ${res.statusCode}`), { status: res.statusCode }),
      );
      res.resume();
    });
    ws.once('error', (e) => reject(e));
    // Messages can arrive in the same tick as 'open' (the upgrade response's tail): buffer them
    // until the client subscribes.
    const early: Buffer[] = [];
    let sink: ((chunk: Buffer) => void) | undefined;
    ws.on('message', (d: Buffer) => (sink ? sink(d) : early.push(d)));
    ws.once('open', () =>
      resolve({
        ws,
        transport: {
          write: (d) => ws.send(d),
          onData: (fn) => {
            sink = fn;
            for (const d of early.splice(0)) fn(d);
          },
          onClose: (fn) => ws.on('close', (code, reason) => fn(code, reason.toString('utf8'))),
          close: () => ws.close(),
        },
      }),
    );
  });
}

/** Connects to an RFB Unix socket directly (the bench's baseline). */
export function unixTransport(path: string): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path });
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

/** One FramebufferUpdate as read by the client. */
export interface Update {
  readonly rects: number;
  readonly pixels: number;
  /** Monotonic time the header arrived, ms. */
  readonly at: number;
}

/** The RFB client. */
export class RfbTestClient {
  private chunks: Buffer[] = [];
  private have = 0;
  private waiters: (() => void)[] = [];
  private isClosed = false;
  closeCode: number | undefined;
  closeReason: string | undefined;
  width = 0;
  height = 0;
  name = '';
  /** The framebuffer, 4 bytes per pixel (BGRX as requested). */
  framebuffer = new Uint8Array(0);
  private readonly updateWaiters: ((u: Update) => void)[] = [];
  updates = 0;

  constructor(private readonly transport: Transport) {
    transport.onData((c) => {
      this.chunks.push(c);
      this.have += c.length;
      this.wake();
    });
    transport.onClose((code, reason) => {
      this.isClosed = true;
      this.closeCode = code;
      this.closeReason = reason;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async read(n: number): Promise<Buffer> {
    while (this.have < n) {
      if (this.isClosed) throw new Error(`stream closed (${this.closeCode} ${this.closeReason})`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }

  /** Waits for the transport to close; returns its code and reason. */
  async closed(): Promise<{ code: number | undefined; reason: string | undefined }> {
    while (!this.isClosed) await new Promise<void>((r) => this.waiters.push(r));
    return { code: this.closeCode, reason: this.closeReason };
  }

  /** Version, security None, ClientInit, ServerInit, SetPixelFormat, SetEncodings(Raw). */
  async handshake(): Promise<void> {
    const version = (await this.read(12)).toString('latin1');
    if (!version.startsWith('RFB 003.')) throw new Error(`not RFB: ${version}`);
    this.transport.write(Buffer.from('RFB 003.008\n', 'latin1'));
    const n = (await this.read(1))[0]!;
    const types = [...(await this.read(n))];
    if (!types.includes(1)) throw new Error(`no security None in ${types.join(',')}`);
    this.transport.write(Uint8Array.of(1));
    const result = (await this.read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error('security handshake failed');
    this.transport.write(Uint8Array.of(1)); // shared
    const init = await this.read(24);
    this.width = init.readUInt16BE(0);
    this.height = init.readUInt16BE(2);
    this.name = (await this.read(init.readUInt32BE(20))).toString('utf8');
    this.framebuffer = new Uint8Array(this.width * this.height * 4);
    const pf = Buffer.alloc(20);
    pf[0] = 0; // SetPixelFormat
    pf.set([32, 24, 0, 1], 4); // bpp, depth, little endian, true colour
    pf.writeUInt16BE(255, 8);
    pf.writeUInt16BE(255, 10);
    pf.writeUInt16BE(255, 12);
    pf.set([16, 8, 0], 14);
    this.transport.write(pf);
    const enc = Buffer.alloc(4 + 8);
    enc[0] = 2;
    enc.writeUInt16BE(2, 2);
    enc.writeInt32BE(0, 4); // Raw
    enc.writeInt32BE(-223, 8); // DesktopSize
    this.transport.write(enc);
    void this.loop().catch(() => undefined);
  }

  /** Asks for an update of the whole screen. */
  requestUpdate(incremental: boolean): void {
    const m = Buffer.alloc(10);
    m[0] = 3;
    m[1] = incremental ? 1 : 0;
    m.writeUInt16BE(this.width, 6);
    m.writeUInt16BE(this.height, 8);
    this.transport.write(m);
  }

  /** Sends a key press and release of an X keysym. */
  key(keysym: number): void {
    const m = Buffer.alloc(16);
    m[0] = 4;
    m[1] = 1;
    m.writeUInt32BE(keysym, 4);
    m[8] = 4;
    m[9] = 0;
    m.writeUInt32BE(keysym, 12);
    this.transport.write(m);
  }

  /** Moves the pointer (no buttons). */
  pointer(x: number, y: number): void {
    const m = Buffer.alloc(6);
    m[0] = 5;
    m.writeUInt16BE(x, 2);
    m.writeUInt16BE(y, 4);
    this.transport.write(m);
  }

  /** Sends raw bytes (tests of malformed input). */
  writeRaw(data: Uint8Array): void {
    this.transport.write(data);
  }

  /** Resolves at the next FramebufferUpdate fully read. */
  nextUpdate(): Promise<Update> {
    return new Promise((r) => this.updateWaiters.push(r));
  }

  close(): void {
    this.transport.close();
  }

  private async loop(): Promise<void> {
    for (;;) {
      const type = (await this.read(1))[0]!;
      if (type === 0) {
        const at = performance.now();
        const n = (await this.read(3)).readUInt16BE(1);
        let pixels = 0;
        for (let i = 0; i < n; i++) {
          const h = await this.read(12);
          const x = h.readUInt16BE(0);
          const y = h.readUInt16BE(2);
          const w = h.readUInt16BE(4);
          const hh = h.readUInt16BE(6);
          const enc = h.readInt32BE(8);
          if (enc === 0) {
            const data = await this.read(w * hh * 4);
            for (let row = 0; row < hh; row++) {
              this.framebuffer.set(
                data.subarray(row * w * 4, (row + 1) * w * 4),
                ((y + row) * this.width + x) * 4,
              );
            }
            pixels += w * hh;
          } else if (enc === -223) {
            this.width = w;
            this.height = hh;
            this.framebuffer = new Uint8Array(w * hh * 4);
          } else {
            throw new Error(`unexpected encoding ${enc}`);
          }
        }
        this.updates++;
        const u = { rects: n, pixels, at };
        for (const w of this.updateWaiters.splice(0)) w(u);
      } else if (type === 2) {
        // Bell
      } else if (type === 3) {
        await this.read(Math.abs((await this.read(7)).readInt32BE(3)));
      } else {
        throw new Error(`unexpected server message ${type}`);
      }
    }
  }
}
