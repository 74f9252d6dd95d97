import { describe, expect, it } from 'vitest';
import { decodeChanges, encodeChanges, pad, paddedSize, unpad } from './format.js';

describe('format', () => {
  it('pads to size buckets and back', () => {
    expect(paddedSize(1)).toBe(256);
    expect(paddedSize(257)).toBe(512);
    expect(paddedSize(70_000)).toBe(131_072);
    for (const n of [0, 1, 252, 253, 5000, 100_000]) {
      const data = Buffer.alloc(n, 9);
      const p = pad(data);
      expect(p.length).toBe(paddedSize(n + 4));
      expect(unpad(p)?.equals(data)).toBe(true);
    }
    expect(unpad(Buffer.from([0, 0, 1, 0, 1]))).toBeUndefined();
  });

  it('encodes chain changes canonically and refuses garbage', () => {
    const changes = [
      { table: 1, id: Buffer.alloc(16, 1), idx: 0, ctHash: Buffer.alloc(32, 2) },
      { table: 2, id: Buffer.alloc(16, 3), idx: 7, ctHash: undefined },
    ];
    const buf = encodeChanges(changes);
    expect(decodeChanges(buf)).toEqual(changes);
    expect(decodeChanges(buf.subarray(0, buf.length - 1))).toBeUndefined();
    expect(decodeChanges(Buffer.alloc(0))).toBeUndefined();
  });
});
