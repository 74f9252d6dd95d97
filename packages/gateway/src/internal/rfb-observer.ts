/**
 * A passive RFB (RFC 6143) observer: it follows both directions of a proxied RFB connection to find
 * message boundaries, so the gateway can count FramebufferUpdates and time user input to the next
 * update. It never changes a byte. When it meets something it cannot size (an encoding it does not
 * know), it stops following that direction and says why; the stream itself is unaffected.
 *
 * Covered: versions 3.3/3.7/3.8, security None and VNC authentication, ServerInit, the client's
 * SetPixelFormat, and the encodings TigerVNC and QEMU send (Raw, CopyRect, RRE, Hextile, Tight,
 * ZRLE, H.264 and the common pseudo-encodings).
 */
import type { Need, ParserGenerator } from './pull-parser.js';
import { PullParser } from './pull-parser.js';

/** Kinds of user input the observer reports. */
export type RfbInputKind = 'key' | 'pointer' | 'clipboard';

/** Callbacks of {@link RfbObserver}. */
export interface RfbObserverEvents {
  /** A FramebufferUpdate header arrived from the server (before its rectangles). */
  onFramebufferUpdate?(): void;
  /** The client sent user input. */
  onInput?(kind: RfbInputKind): void;
}

interface PixelFormat {
  bitsPerPixel: number;
  depth: number;
  trueColour: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
}

interface Shared {
  minor: number;
  security: number | undefined;
  pf: PixelFormat;
}

const read = (n: number): Need => ({ read: n });
const skip = (n: number): Need => ({ skip: n });

function u16(b: Uint8Array, o: number): number {
  return ((b[o] ?? 0) << 8) | (b[o + 1] ?? 0);
}
function u32(b: Uint8Array, o: number): number {
  return (
    (((b[o] ?? 0) << 24) | ((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0)) >>> 0
  );
}
function s32(b: Uint8Array, o: number): number {
  return u32(b, o) | 0;
}
function byte(b: Uint8Array, o = 0): number {
  return b[o] ?? 0;
}

function parsePixelFormat(b: Uint8Array, o: number): PixelFormat {
  return {
    bitsPerPixel: byte(b, o),
    depth: byte(b, o + 1),
    trueColour: byte(b, o + 3) !== 0,
    redMax: u16(b, o + 4),
    greenMax: u16(b, o + 6),
    blueMax: u16(b, o + 8),
  };
}

function parseVersion(b: Uint8Array): number {
  const text = new TextDecoder().decode(b);
  const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(text);
  if (!m) throw new Error('not an RFB ProtocolVersion');
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major !== 3) throw new Error(`unsupported RFB major version ${major}`);
  // 3.889 is Apple's; treat unknown minors as 3.8, like most clients do.
  return minor >= 8 ? 8 : minor >= 7 ? 7 : 3;
}

function* readU8(): Generator<Need, number, Uint8Array> {
  return byte(yield read(1));
}

/** Tight's compact length: 1-3 bytes, 7 bits each, little end first. */
function* compactLength(): Generator<Need, number, Uint8Array> {
  let b = yield* readU8();
  let len = b & 0x7f;
  if (b & 0x80) {
    b = yield* readU8();
    len |= (b & 0x7f) << 7;
    if (b & 0x80) {
      b = yield* readU8();
      len |= b << 14;
    }
  }
  return len;
}

function tightPixelSize(pf: PixelFormat): number {
  return pf.trueColour &&
    pf.bitsPerPixel === 32 &&
    pf.depth === 24 &&
    pf.redMax === 255 &&
    pf.greenMax === 255 &&
    pf.blueMax === 255
    ? 3
    : pf.bitsPerPixel / 8;
}

function* tightRect(w: number, h: number, pf: PixelFormat): Generator<Need, void, Uint8Array> {
  const ctl = yield* readU8();
  const comp = ctl >> 4;
  const tp = tightPixelSize(pf);
  if (comp === 8) {
    yield skip(tp);
    return;
  }
  if (comp === 9 || comp === 10) {
    yield skip(yield* compactLength());
    return;
  }
  if (comp > 10) throw new Error(`bad Tight compression control ${ctl}`);
  const filter = comp & 4 ? yield* readU8() : 0;
  let dataSize: number;
  if (filter === 0 || filter === 2) {
    dataSize = w * h * tp;
  } else if (filter === 1) {
    const colours = (yield* readU8()) + 1;
    yield skip(colours * tp);
    dataSize = colours === 2 ? h * Math.ceil(w / 8) : w * h;
  } else {
    throw new Error(`bad Tight filter ${filter}`);
  }
  if (dataSize < 12) yield skip(dataSize);
  else yield skip(yield* compactLength());
}

function* hextileRect(w: number, h: number, bpp: number): Generator<Need, void, Uint8Array> {
  for (let ty = 0; ty < h; ty += 16) {
    const th = Math.min(16, h - ty);
    for (let tx = 0; tx < w; tx += 16) {
      const tw = Math.min(16, w - tx);
      const sub = yield* readU8();
      if (sub & 1) {
        yield skip(tw * th * bpp);
        continue;
      }
      let fixed = 0;
      if (sub & 2) fixed += bpp;
      if (sub & 4) fixed += bpp;
      if (fixed) yield skip(fixed);
      if (sub & 8) {
        const n = yield* readU8();
        yield skip(sub & 16 ? n * (bpp + 2) : n * 2);
      }
    }
  }
}

const VMWARE_CURSOR = 0x574d5664 | 0;

/** Returns false for LastRect (no more rectangles). */
function* rectangle(shared: Shared): Generator<Need, boolean, Uint8Array> {
  const hdr = yield read(12);
  const w = u16(hdr, 4);
  const h = u16(hdr, 6);
  const enc = s32(hdr, 8);
  const bpp = shared.pf.bitsPerPixel / 8;
  switch (enc) {
    case 0: // Raw
      yield skip(w * h * bpp);
      return true;
    case 1: // CopyRect
      yield skip(4);
      return true;
    case 2: {
      // RRE
      const n = u32(yield read(4), 0);
      yield skip(bpp + n * (bpp + 8));
      return true;
    }
    case 5:
      yield* hextileRect(w, h, bpp);
      return true;
    case 7:
      yield* tightRect(w, h, shared.pf);
      return true;
    case 16: // ZRLE
      yield skip(u32(yield read(4), 0));
      return true;
    case 50: {
      // Open H.264: length, flags, data
      yield skip(u32(yield read(8), 0));
      return true;
    }
    case -223: // DesktopSize
    case -257: // QEMU pointer motion change
    case -258: // QEMU extended key event
    case -309: // xvp
    case -312: // Fence
    case -313: // ContinuousUpdates
      return true;
    case -224: // LastRect
      return false;
    case -239: // Cursor: pixels + bitmask
      yield skip(w * h * bpp + Math.ceil(w / 8) * h);
      return true;
    case -240: // X cursor
      if (w * h > 0) yield skip(6 + 2 * Math.ceil(w / 8) * h);
      return true;
    case -261: // QEMU LED state
      yield skip(1);
      return true;
    case -262: // VMware LED state
      yield skip(4);
      return true;
    case -307: // DesktopName
      yield skip(u32(yield read(4), 0));
      return true;
    case -308: {
      // ExtendedDesktopSize: number of screens, 3 padding, 16 bytes per screen
      yield skip(byte(yield read(4), 0) * 16);
      return true;
    }
    case -314: {
      // CursorWithAlpha: an encoding, then the cursor in it (servers send Raw, 32 bpp RGBA)
      const inner = s32(yield read(4), 0);
      if (inner !== 0) throw new Error(`CursorWithAlpha in encoding ${inner}`);
      yield skip(w * h * 4);
      return true;
    }
    case VMWARE_CURSOR: {
      const type = byte(yield read(2), 0);
      yield skip(type === 0 ? 2 * w * h * bpp : w * h * 4);
      return true;
    }
    default:
      throw new Error(`unknown encoding ${enc}`);
  }
}

function* serverStream(shared: Shared, events: RfbObserverEvents): ParserGenerator {
  shared.minor = parseVersion(yield read(12));
  // Security handshake.
  if (shared.minor === 3) {
    shared.security = u32(yield read(4), 0);
  } else {
    const n = yield* readU8();
    if (n === 0) return; // failure reason follows, then the server closes
    yield skip(n);
  }
  if (shared.security === 0) return;
  // The next server byte arrives only after the client's choice went through the observer.
  let first = yield* readU8();
  if (shared.security === 2) {
    yield skip(15 + 4); // rest of the challenge, SecurityResult
    first = -1;
  } else if (shared.security === 1 && shared.minor === 8) {
    yield skip(3); // SecurityResult
    first = -1;
  } else if (shared.security !== 1) {
    throw new Error(`unsupported security type ${shared.security}`);
  }
  // ServerInit (its first byte may already be in `first`).
  const init = yield read(first >= 0 ? 23 : 24);
  const off = first >= 0 ? -1 : 0;
  shared.pf = parsePixelFormat(init, 4 + off);
  yield skip(u32(init, 20 + off));
  for (;;) {
    const type = yield* readU8();
    switch (type) {
      case 0: {
        events.onFramebufferUpdate?.();
        const n = u16(yield read(3), 1);
        for (let i = 0; i < n; i++) if (!(yield* rectangle(shared))) break;
        break;
      }
      case 1: // SetColourMapEntries
        yield skip(u16(yield read(5), 3) * 6);
        break;
      case 2: // Bell
      case 150: // EndOfContinuousUpdates
        break;
      case 3: // ServerCutText (negative length = extended clipboard)
        yield skip(Math.abs(s32(yield read(7), 3)));
        break;
      case 248: // ServerFence
        yield skip(byte(yield read(8), 7));
        break;
      case 250: // xvp
        yield skip(3);
        break;
      case 255: {
        // QEMU server message: audio only
        const sub = yield* readU8();
        if (sub !== 1) throw new Error(`unknown QEMU server message ${sub}`);
        const op = u16(yield read(2), 0);
        if (op === 2) yield skip(u32(yield read(4), 0));
        break;
      }
      default:
        throw new Error(`unknown server message type ${type}`);
    }
  }
}

function* clientStream(shared: Shared, events: RfbObserverEvents): ParserGenerator {
  const minor = parseVersion(yield read(12));
  if (minor !== 3) {
    shared.security = yield* readU8();
  }
  // The next client byte is the VNC-auth response or ClientInit. In 3.3 the server chose the type,
  // and its choice has passed through the server parser before the client can send this byte.
  yield skip(1);
  if (shared.security === 2) yield skip(16); // rest of the response, then ClientInit
  for (;;) {
    const type = yield* readU8();
    switch (type) {
      case 0: // SetPixelFormat
        shared.pf = parsePixelFormat(yield read(19), 3);
        break;
      case 2: // SetEncodings
        yield skip(u16(yield read(3), 1) * 4);
        break;
      case 3: // FramebufferUpdateRequest
        yield skip(9);
        break;
      case 4: // KeyEvent
        yield skip(7);
        events.onInput?.('key');
        break;
      case 5: // PointerEvent
        yield skip(5);
        events.onInput?.('pointer');
        break;
      case 6: // ClientCutText
        yield skip(Math.abs(s32(yield read(7), 3)));
        events.onInput?.('clipboard');
        break;
      case 150: // EnableContinuousUpdates
        yield skip(9);
        break;
      case 248: // ClientFence
        yield skip(byte(yield read(8), 7));
        break;
      case 250: // xvp
        yield skip(3);
        break;
      case 251: // SetDesktopSize
        yield skip(byte(yield read(7), 5) * 16);
        break;
      case 253: {
        // gii: the length's byte order is given by the top bit of the first byte
        const b = yield read(3);
        const bigEndian = (byte(b, 0) & 0x80) !== 0;
        yield skip(bigEndian ? u16(b, 1) : byte(b, 1) | (byte(b, 2) << 8));
        break;
      }
      case 255: {
        const sub = yield* readU8();
        if (sub === 0) {
          yield skip(10); // QEMU extended key event
          events.onInput?.('key');
        } else if (sub === 1) {
          const op = u16(yield read(2), 0);
          if (op === 2) yield skip(6);
        } else {
          throw new Error(`unknown QEMU client message ${sub}`);
        }
        break;
      }
      default:
        throw new Error(`unknown client message type ${type}`);
    }
  }
}

/** Follows both directions of one RFB connection. */
export class RfbObserver {
  private readonly server: PullParser;
  private readonly client: PullParser;

  constructor(events: RfbObserverEvents = {}) {
    const shared: Shared = {
      minor: 8,
      security: undefined,
      pf: {
        bitsPerPixel: 32,
        depth: 24,
        trueColour: true,
        redMax: 255,
        greenMax: 255,
        blueMax: 255,
      },
    };
    this.server = new PullParser(serverStream(shared, events));
    this.client = new PullParser(clientStream(shared, events));
  }

  /** Bytes the server sent, in order. */
  fromServer(chunk: Uint8Array): void {
    this.server.feed(chunk);
  }

  /** Bytes the client sent, in order. */
  fromClient(chunk: Uint8Array): void {
    this.client.feed(chunk);
  }

  /** True while both directions are followed. */
  get isSynced(): boolean {
    return this.server.isSynced && this.client.isSynced;
  }

  /** Why following stopped, per direction (undefined while synced). */
  get stoppedReasons(): { server: string | undefined; client: string | undefined } {
    return { server: this.server.stoppedReason, client: this.client.stoppedReason };
  }
}
