/**
 * The PTY bridge protocol: how the gateway talks to a terminal environment's PTY bridge over its
 * Unix socket. One byte stream carries both terminal bytes and control messages, so it is framed:
 *
 *   frame = type (u8) | length (u32, big-endian) | payload (length bytes)
 *   type 0 = data: raw terminal bytes (either direction)
 *   type 1 = control: one UTF-8 JSON object (either direction)
 *
 * Control messages, gateway -> bridge: `{"type":"resize","cols":C,"rows":R}` (the bridge applies it
 * with TIOCSWINSZ). Bridge -> gateway: `{"type":"exit","code":N}` when the shell ends. Unknown control
 * types are ignored by both sides, so later versions can add messages. Payloads are at most
 * {@link PTY_MAX_PAYLOAD} bytes.
 */

/** Frame type of terminal bytes. */
export const PTY_FRAME_DATA = 0;
/** Frame type of a JSON control message. */
export const PTY_FRAME_CONTROL = 1;
/** Largest payload of one frame (bytes). */
export const PTY_MAX_PAYLOAD = 1024 * 1024;
/** Bounds of a terminal size the gateway forwards (columns and rows). */
export const PTY_MAX_DIMENSION = 1000;

/** One decoded frame. */
export interface PtyFrame {
  readonly type: number;
  readonly payload: Uint8Array;
}

/** A resize request in the client's and the bridge's JSON form. */
export interface PtyResize {
  readonly type: 'resize';
  readonly cols: number;
  readonly rows: number;
}

/** Encodes one frame. */
export function encodePtyFrame(type: number, payload: Uint8Array): Uint8Array {
  if (payload.length > PTY_MAX_PAYLOAD) throw new RangeError('PTY frame payload too large');
  const out = new Uint8Array(5 + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

/** Encodes a resize control frame from validated numbers. */
export function encodePtyResize(cols: number, rows: number): Uint8Array {
  const json: PtyResize = { type: 'resize', cols, rows };
  return encodePtyFrame(PTY_FRAME_CONTROL, new TextEncoder().encode(JSON.stringify(json)));
}

/**
 * Parses a client's text frame as a resize request. Returns undefined for anything else: the client
 * may send only this one control message, with integer sizes in 1..{@link PTY_MAX_DIMENSION}.
 */
export function parseClientResize(text: string): PtyResize | undefined {
  if (text.length > 256) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const ok = (n: unknown): n is number =>
    typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= PTY_MAX_DIMENSION;
  if (o['type'] !== 'resize' || !ok(o['cols']) || !ok(o['rows'])) return undefined;
  return { type: 'resize', cols: o['cols'], rows: o['rows'] };
}

/** Decodes frames from a byte stream, however it is split. Throws on an oversized frame. */
export class PtyFrameDecoder {
  private buf: Uint8Array = new Uint8Array(0);

  /** Feeds bytes and returns the frames they complete. */
  feed(chunk: Uint8Array): PtyFrame[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf, 0);
    joined.set(chunk, this.buf.length);
    const frames: PtyFrame[] = [];
    let off = 0;
    while (joined.length - off >= 5) {
      const len = new DataView(joined.buffer, joined.byteOffset + off + 1, 4).getUint32(0);
      if (len > PTY_MAX_PAYLOAD)
        throw new RangeError(`PTY frame of ${len} bytes exceeds the limit`);
      if (joined.length - off < 5 + len) break;
      frames.push({ type: joined[off] ?? 0, payload: joined.slice(off + 5, off + 5 + len) });
      off += 5 + len;
    }
    this.buf = joined.slice(off);
    return frames;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buf.length;
  }
}
