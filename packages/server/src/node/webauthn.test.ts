import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ChallengeStore,
  checkAuthenticatorData,
  checkClientData,
  verifyAssertionSignature,
} from './webauthn.js';

const ORIGINS = new Set(['http://localhost:7460']);

function authData(rpId: string, flags: number, count: number): Buffer {
  const b = Buffer.alloc(37);
  createHash('sha256').update(rpId).digest().copy(b, 0);
  b[32] = flags;
  b.writeUInt32BE(count, 33);
  return b;
}

describe('WebAuthn checks', () => {
  it('challenges are single use, purpose-bound and expire', () => {
    let now = 0;
    const s = new ChallengeStore(() => now, 1000);
    const c = s.issue('unlock');
    expect(s.take(c, 'enrol')).toBe(false);
    const c2 = s.issue('unlock');
    expect(s.take(c2, 'unlock')).toBe(true);
    expect(s.take(c2, 'unlock')).toBe(false);
    const c3 = s.issue('unlock');
    now = 1000;
    expect(s.take(c3, 'unlock')).toBe(false);
  });

  it('client data must have the type, a live challenge and an allowed origin', () => {
    const s = new ChallengeStore(() => 0);
    const cd = (o: object) => Buffer.from(JSON.stringify(o));
    const base = {
      type: 'webauthn.get' as const,
      challenges: s,
      purpose: 'unlock' as const,
      origins: ORIGINS,
    };
    const ok = s.issue('unlock');
    expect(
      checkClientData(
        cd({ type: 'webauthn.get', challenge: ok, origin: 'http://localhost:7460' }),
        base,
      ).challenge,
    ).toBe(ok);
    const c = s.issue('unlock');
    expect(() =>
      checkClientData(
        cd({ type: 'webauthn.get', challenge: c, origin: 'http://evil.example' }),
        base,
      ),
    ).toThrow(/origin/);
    expect(() =>
      checkClientData(
        cd({
          type: 'webauthn.create',
          challenge: s.issue('unlock'),
          origin: 'http://localhost:7460',
        }),
        base,
      ),
    ).toThrow(/type/);
    expect(() =>
      checkClientData(
        cd({ type: 'webauthn.get', challenge: ok, origin: 'http://localhost:7460' }),
        base,
      ),
    ).toThrow(/challenge/);
    expect(() => checkClientData(Buffer.from('{'), base)).toThrow(/JSON/);
  });

  it('authenticator data must name the RP and carry UP and UV', () => {
    expect(checkAuthenticatorData(authData('localhost', 0x05, 7), 'localhost')).toBe(7);
    expect(() => checkAuthenticatorData(authData('evil.example', 0x05, 0), 'localhost')).toThrow(
      /relying party/,
    );
    expect(() => checkAuthenticatorData(authData('localhost', 0x01, 0), 'localhost')).toThrow(
      /verify the user/,
    );
    expect(() => checkAuthenticatorData(Buffer.alloc(10), 'localhost')).toThrow(/short/);
  });

  it('verifies ES256 and Ed25519 assertion signatures and refuses tampered data', () => {
    const ad = authData('localhost', 0x05, 1);
    const cdj = Buffer.from('{"type":"webauthn.get"}');
    const signed = Buffer.concat([ad, createHash('sha256').update(cdj).digest()]);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ed = generateKeyPairSync('ed25519');
    const cases = [
      { alg: -7, pub: ec.publicKey, sig: sign('sha256', signed, ec.privateKey) },
      { alg: -8, pub: ed.publicKey, sig: sign(null, signed, ed.privateKey) },
    ];
    for (const { alg, pub, sig } of cases) {
      const publicKeySpki = pub.export({ format: 'der', type: 'spki' });
      const input = { publicKeySpki, alg, authData: ad, clientDataJSON: cdj, signature: sig };
      expect(verifyAssertionSignature(input)).toBe(true);
      expect(verifyAssertionSignature({ ...input, clientDataJSON: Buffer.from('{}') })).toBe(false);
      expect(verifyAssertionSignature({ ...input, alg: -999 })).toBe(false);
    }
    expect(
      verifyAssertionSignature({
        publicKeySpki: Buffer.from('junk'),
        alg: -7,
        authData: ad,
        clientDataJSON: cdj,
        signature: Buffer.alloc(64),
      }),
    ).toBe(false);
  });
});
