import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hkdfSha256, open, seal, randomKey, hash } from './crypto.js';

/** RFC 5869 written out with HMAC, independent of Node's hkdfSync. */
function hkdfReference(ikm: Buffer, salt: Buffer, info: Buffer, len: number): Buffer {
  const prk = createHmac('sha256', salt).update(ikm).digest();
  let t = Buffer.alloc(0);
  const out: Buffer[] = [];
  for (let i = 1; Buffer.concat(out).length < len; i++) {
    t = createHmac('sha256', prk)
      .update(Buffer.concat([t, info, Buffer.from([i])]))
      .digest();
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, len);
}

describe('crypto', () => {
  it('HKDF-SHA256 matches RFC 5869 test case 1', () => {
    const ikm = Buffer.alloc(22, 0x0b);
    const salt = Buffer.from('000102030405060708090a0b0c', 'hex');
    const info = Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex');
    // RFC 5869 A.1 OKM, first 32 bytes.
    expect(hkdfSha256(ikm, salt, info).toString('hex')).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf',
    );
  });

  it('derives the passkey KEK from a fixed PRF output (fixed vector)', () => {
    // A WebAuthn PRF output as an authenticator would return it (fixed test vector).
    const prf = Buffer.from(
      '8f1c5e2a9b3d4f6071829304a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8',
      'hex',
    );
    const salt = Buffer.alloc(32, 0x11);
    const info = Buffer.from('virtos-vault/v1/passkey/vault_test/cred-1');
    const kek = hkdfSha256(prf, salt, info);
    expect(kek.toString('hex')).toBe(hkdfReference(prf, salt, info, 32).toString('hex'));
    expect(kek.toString('hex')).toBe(
      '4070e5d03d2a0a1613adbc365cfc361adcdf2f603d35f09683fe89f318ef7238',
    );
  });

  it('seal/open detects a flipped bit anywhere and a wrong associated data', () => {
    const key = randomKey();
    const sealed = seal(Buffer.from('hello'), Buffer.from('ad'), key);
    expect(open(sealed, Buffer.from('ad'), key)?.toString()).toBe('hello');
    for (let i = 0; i < sealed.length * 8; i++) {
      const c = Buffer.from(sealed);
      c[i >> 3]! ^= 1 << (i & 7);
      expect(open(c, Buffer.from('ad'), key)).toBeUndefined();
    }
    expect(open(sealed, Buffer.from('AD'), key)).toBeUndefined();
  });

  it('hash refuses non-byte input instead of crashing natively', () => {
    expect(() => hash(['x' as unknown as Buffer])).toThrow(TypeError);
  });
});
