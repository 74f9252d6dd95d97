import { ManualClock } from '@virtos/core';
import { describe, expect, it } from 'vitest';
import { GatewayErrors } from '../common/errors.js';
import { StreamTokenService } from './stream-token-service.js';

describe('StreamTokenService', () => {
  const make = (ttlMs = 5_000) => {
    const clock = new ManualClock(1_000_000);
    return { clock, tokens: new StreamTokenService({ clock, ttlMs }) };
  };

  it('issues 256-bit base64url tokens that differ every time', () => {
    const { tokens } = make();
    const a = tokens.issue('env_a', 'sess_1');
    const b = tokens.issue('env_a', 'sess_1');
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.token, 'base64url')).toHaveLength(32);
    expect(a.token).not.toBe(b.token);
    expect(a.expiresAt).toBe(1_000_000 + 5_000);
  });

  it('verifies once, binds env and session', () => {
    const { tokens } = make();
    const { token } = tokens.issue('env_a', 'sess_1');
    const r = tokens.consume(token, 'env_a');
    expect(r).toEqual({ ok: true, value: { envId: 'env_a', sessionId: 'sess_1' } });
    const again = tokens.consume(token, 'env_a');
    expect(again.ok).toBe(false);
    if (!again.ok) expect(GatewayErrors.is(again.error, 'token_invalid')).toBe(true);
  });

  it('refuses a token for another environment and burns it', () => {
    const { tokens } = make();
    const { token } = tokens.issue('env_a', 'sess_1');
    expect(tokens.consume(token, 'env_b').ok).toBe(false);
    expect(tokens.consume(token, 'env_a').ok).toBe(false);
  });

  it('check() pre-verifies without consuming, and burns a token that fails it', () => {
    const { clock, tokens } = make(2_000);
    const { token } = tokens.issue('env_a', 's');
    expect(tokens.check(token, 'env_a')).toBe(true);
    expect(tokens.check(token, 'env_a')).toBe(true);
    expect(tokens.consume(token, 'env_a').ok).toBe(true);
    expect(tokens.check(token, 'env_a')).toBe(false);
    expect(tokens.check(undefined, 'env_a')).toBe(false);
    expect(tokens.check('short', 'env_a')).toBe(false);
    const other = tokens.issue('env_a', 's').token;
    expect(tokens.check(other, 'env_b')).toBe(false);
    expect(tokens.consume(other, 'env_a').ok).toBe(false);
    const late = tokens.issue('env_a', 's').token;
    clock.advance(2_000);
    expect(tokens.check(late, 'env_a')).toBe(false);
  });

  it('expires after the ttl (monotonic clock)', () => {
    const { clock, tokens } = make(2_000);
    const t1 = tokens.issue('env_a', 's').token;
    const t2 = tokens.issue('env_a', 's').token;
    clock.advance(1_999);
    expect(tokens.consume(t1, 'env_a').ok).toBe(true);
    clock.advance(1);
    expect(tokens.consume(t2, 'env_a').ok).toBe(false);
    expect(tokens.outstanding).toBe(0);
  });

  it('reports a missing token with its own code and a hint', () => {
    const { tokens } = make();
    const r = tokens.consume(undefined, 'env_a');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('gateway.token_missing');
      expect(r.error.errorClass).toBe('permission_denied');
      expect(r.error.hint).toMatch(/stream token/);
    }
  });

  it('refuses malformed tokens without throwing', () => {
    const { tokens } = make();
    for (const t of ['x', 'a'.repeat(44), '../../etc', 'a'.repeat(42) + '=']) {
      expect(tokens.consume(t, 'env_a').ok).toBe(false);
    }
  });

  it('revokes by session and by environment', () => {
    const { tokens } = make();
    const a = tokens.issue('env_a', 's1').token;
    const b = tokens.issue('env_b', 's1').token;
    const c = tokens.issue('env_b', 's2').token;
    expect(tokens.revokeSession('s1')).toBe(2);
    expect(tokens.revokeEnvironment('env_b')).toBe(1);
    for (const [t, e] of [
      [a, 'env_a'],
      [b, 'env_b'],
      [c, 'env_b'],
    ] as const)
      expect(tokens.consume(t, e).ok).toBe(false);
  });

  it('bounds outstanding tokens', () => {
    const clock = new ManualClock();
    const tokens = new StreamTokenService({ clock, ttlMs: 1_000, maxOutstanding: 3 });
    for (let i = 0; i < 3; i++) tokens.issue('env_a', 's');
    expect(() => tokens.issue('env_a', 's')).toThrow(/outstanding/);
    clock.advance(1_000);
    expect(() => tokens.issue('env_a', 's')).not.toThrow();
  });

  it('refuses lifetimes that are not seconds', () => {
    expect(() => new StreamTokenService({ ttlMs: 3_600_000 })).toThrow(/out of range/);
    expect(() => new StreamTokenService({ ttlMs: 0 })).toThrow(/out of range/);
  });
});
