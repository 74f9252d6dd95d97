import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RfbObserver } from './rfb-observer.js';

const be16 = (n: number) => [(n >> 8) & 255, n & 255];
const be32 = (n: number) => [(n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
const rect = (w: number, h: number, enc: number) => [
  0,
  0,
  0,
  0,
  ...be16(w),
  ...be16(h),
  ...be32(enc >>> 0),
];
const bytes = (...parts: (number[] | Uint8Array)[]) =>
  Uint8Array.from(parts.flatMap((p) => [...p]));

/** Server bytes up to the security types, then the rest; client bytes likewise. */
function conversation(): {
  serverA: Uint8Array;
  clientA: Uint8Array;
  serverB: Uint8Array;
  clientB: Uint8Array;
  updates: number;
  inputs: number;
} {
  const enc = new TextEncoder();
  const serverA = bytes([...enc.encode('RFB 003.008\n')], [1, 1]);
  const clientA = bytes([...enc.encode('RFB 003.008\n')], [1]);
  const pf32 = [32, 24, 0, 1, ...be16(255), ...be16(255), ...be16(255), 16, 8, 0, 0, 0, 0];
  const name = [...enc.encode('test desktop')];
  const init = [...be16(64), ...be16(48), ...pf32, ...be32(name.length), ...name];
  const w = 20;
  const h = 18;
  const fbu1 = [
    0,
    0,
    ...be16(9),
    ...rect(2, 2, 0),
    ...new Array(2 * 2 * 4).fill(1), // Raw
    ...rect(8, 8, 1),
    0,
    0,
    0,
    0, // CopyRect
    ...rect(4, 4, 2),
    ...be32(2),
    1,
    2,
    3,
    4,
    ...new Array(2 * (4 + 8)).fill(0), // RRE
    // Hextile 20x18 = 4 tiles: raw, bg+fg+subrects, coloured subrects, empty
    ...rect(w, h, 5),
    1,
    ...new Array(16 * 16 * 4).fill(2),
    2 | 4 | 8,
    9,
    9,
    9,
    9,
    8,
    8,
    8,
    8,
    2,
    0,
    0,
    0,
    0,
    8 | 16,
    1,
    7,
    7,
    7,
    7,
    0,
    0,
    0,
    ...rect(5, 5, 7),
    0x80,
    1,
    2,
    3, // Tight fill (TPIXEL = 3)
    ...rect(30, 30, 7),
    0x90,
    0x85,
    0x01,
    ...new Array(133).fill(0), // Tight JPEG, compact length 133
    ...rect(10, 10, 7),
    0x40,
    1,
    1,
    1,
    2,
    3,
    4,
    5,
    6,

    20,
    ...new Array(20).fill(0), // palette of 2: 10*2 = 20 >= 12
    ...rect(2, 1, 7),
    0x00,
    1,
    2,
    3,
    4,
    5,
    6, // basic copy, 6 bytes < 12, raw
    ...rect(3, 3, 16),
    ...be32(5),
    1,
    2,
    3,
    4,
    5, // ZRLE
  ];
  const fbu2 = [
    0,
    0,
    0xff,
    0xff,
    ...rect(2, 2, -239),
    ...new Array(2 * 2 * 4 + 1 * 2).fill(0), // Cursor
    ...rect(64, 48, -223), // DesktopSize
    ...rect(64, 48, -308),
    1,
    0,
    0,
    0,
    ...new Array(16).fill(0), // ExtendedDesktopSize
    ...rect(0, 0, -307),
    ...be32(3),
    65,
    66,
    67, // DesktopName
    ...rect(0, 0, -224), // LastRect
  ];
  const serverB = bytes(
    be32(0), // SecurityResult
    init,
    fbu1,
    [2], // Bell
    [3, 0, 0, 0, ...be32(5), 104, 101, 108, 108, 111], // ServerCutText
    [248, 0, 0, 0, ...be32(0), 2, 9, 9], // ServerFence
    fbu2,
    [150], // EndOfContinuousUpdates
  );
  const clientB = bytes(
    [1], // ClientInit
    [0, 0, 0, 0, ...pf32], // SetPixelFormat (same format)
    [2, 0, ...be16(2), ...be32(7), ...be32(-223 >>> 0)],
    [3, 0, ...be16(0), ...be16(0), ...be16(64), ...be16(48)],
    [4, 1, 0, 0, ...be32(0x61)],
    [5, 0, ...be16(1), ...be16(2)],
    [6, 0, 0, 0, ...be32(2), 104, 105],
    [248, 0, 0, 0, ...be32(0), 0],
    [255, 0, ...be16(1), ...be32(0x61), ...be32(30)],
  );
  return { serverA, clientA, serverB, clientB, updates: 2, inputs: 4 };
}

function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, data.length]) {
    out.push(data.subarray(prev, p));
    prev = p;
  }
  return out;
}

describe('RfbObserver', () => {
  it('follows a conversation with every supported message and encoding', () => {
    const conv = conversation();
    let updates = 0;
    const inputs: string[] = [];
    const o = new RfbObserver({
      onFramebufferUpdate: () => updates++,
      onInput: (k) => inputs.push(k),
    });
    o.fromServer(conv.serverA);
    o.fromClient(conv.clientA);
    o.fromServer(conv.serverB);
    o.fromClient(conv.clientB);
    expect(o.stoppedReasons).toEqual({ server: undefined, client: undefined });
    expect(updates).toBe(conv.updates);
    expect(inputs).toEqual(['key', 'pointer', 'clipboard', 'key']);
  });

  it('gives the same result however the bytes are split', () => {
    const conv = conversation();
    fc.assert(
      fc.property(
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (cutsS, cutsC) => {
          let updates = 0;
          let inputs = 0;
          const o = new RfbObserver({
            onFramebufferUpdate: () => updates++,
            onInput: () => inputs++,
          });
          for (const c of split(conv.serverA, cutsS)) o.fromServer(c);
          for (const c of split(conv.clientA, cutsC)) o.fromClient(c);
          for (const c of split(conv.serverB, cutsS)) o.fromServer(c);
          for (const c of split(conv.clientB, cutsC)) o.fromClient(c);
          expect(o.isSynced).toBe(true);
          expect(updates).toBe(conv.updates);
          expect(inputs).toBe(conv.inputs);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('stops following (without throwing) on an unknown encoding or garbage', () => {
    const conv = conversation();
    const o = new RfbObserver();
    o.fromServer(conv.serverA);
    o.fromClient(conv.clientA);
    o.fromServer(conv.serverB);
    o.fromServer(bytes([0, 0, 0, 1], rect(1, 1, 12345)));
    expect(o.isSynced).toBe(false);
    expect(o.stoppedReasons.server).toMatch(/unknown encoding 12345/);
    const g = new RfbObserver();
    g.fromServer(new TextEncoder().encode('HTTP/1.1 200 OK\r\n'));
    expect(g.stoppedReasons.server).toMatch(/not an RFB/);
  });

  it('never buffers a huge rectangle: a 4 GiB raw rect is skipped, not read', () => {
    const conv = conversation();
    const o = new RfbObserver();
    o.fromServer(conv.serverA);
    o.fromClient(conv.clientA);
    o.fromServer(conv.serverB);
    o.fromServer(bytes([0, 0, 0, 1], rect(65535, 65535, 0)));
    o.fromServer(new Uint8Array(1024 * 1024));
    expect(o.isSynced).toBe(true);
  });

  it('follows RFB 3.3 where the server picks security None', () => {
    const enc = new TextEncoder();
    let updates = 0;
    const o = new RfbObserver({ onFramebufferUpdate: () => updates++ });
    o.fromServer(bytes([...enc.encode('RFB 003.003\n')], be32(1)));
    o.fromClient(bytes([...enc.encode('RFB 003.003\n')]));
    o.fromClient(Uint8Array.of(1));
    const pf = [32, 24, 0, 1, ...be16(255), ...be16(255), ...be16(255), 16, 8, 0, 0, 0, 0];
    o.fromServer(bytes(be16(4), be16(4), pf, be32(0), [0, 0, 0, 1], rect(1, 1, 0), [1, 2, 3, 4]));
    expect(o.isSynced).toBe(true);
    expect(updates).toBe(1);
  });
});
