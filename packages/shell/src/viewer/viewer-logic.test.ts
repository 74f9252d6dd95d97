import { describe, expect, it } from 'vitest';
import { BACKOFF, backoffDelay, explainClose } from './close-reasons.js';
import { keysymFor } from './keysyms.js';
import {
  DOWN_AFTER,
  QualityController,
  SATURATED_BYTES,
  TIERS,
  UP_AFTER,
  tierFor,
} from './quality.js';

describe('close codes', () => {
  it('suspended and terminated stop for good and say why', () => {
    expect(explainClose(4001, '', true)).toMatchObject({
      state: 'suspended',
      policy: 'never',
      isEnvironmentGone: true,
    });
    expect(explainClose(4001, '', true).message).toContain('suspended');
    expect(explainClose(4002, '', true)).toMatchObject({ state: 'terminated', policy: 'never' });
  });
  it('a blip retries, a refused upgrade retries once, idle waits for the user', () => {
    expect(explainClose(1006, '', true).policy).toBe('retry');
    expect(explainClose(4006, '', true).policy).toBe('retry');
    expect(explainClose(1006, '', false).policy).toBe('once');
    expect(explainClose(4003, '', true).policy).toBe('manual');
    expect(explainClose(4007, 'vault locked', true).message).toBe('vault locked');
  });
  it('backoff grows, is bounded and ends', () => {
    const d = Array.from({ length: BACKOFF.maxAttempts + 1 }, (_, i) => backoffDelay(i, 0.5));
    expect(d.slice(0, -1)).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    expect(d.at(-1)).toBeUndefined();
    expect(backoffDelay(0, 0)).toBe(400);
    expect(backoffDelay(0, 0.999)).toBeLessThanOrEqual(600);
  });
});

describe('adaptive quality', () => {
  const s = (rttMs: number | null, bps = 0, buffered = 0) => ({
    rttMs,
    bytesToClientPerSecond: bps,
    bufferedToClient: buffered,
  });
  it('maps RTT and saturated bandwidth to tiers', () => {
    expect(tierFor(s(1))).toBe(0);
    expect(tierFor(s(null))).toBe(0);
    expect(tierFor(s(40))).toBe(0);
    expect(tierFor(s(100))).toBe(1);
    expect(tierFor(s(200))).toBe(2);
    expect(tierFor(s(700))).toBe(4);
    // Low throughput alone says nothing (an idle desktop); with bytes waiting it is the capacity.
    expect(tierFor(s(1, 10_000, 0))).toBe(0);
    expect(tierFor(s(1, 10_000, SATURATED_BYTES))).toBe(4);
    expect(tierFor(s(1, 500_000, SATURATED_BYTES))).toBe(2);
  });
  it('lowers after DOWN_AFTER bad samples, raises one step after UP_AFTER good ones', () => {
    const q = new QualityController();
    for (let i = 0; i < DOWN_AFTER - 1; i++) expect(q.update(s(700))).toBe(false);
    expect(q.update(s(700))).toBe(true);
    expect(q.tierIndex).toBe(4);
    for (let i = 0; i < UP_AFTER - 1; i++) q.update(s(1));
    expect(q.tierIndex).toBe(4);
    q.update(s(1));
    expect(q.tierIndex).toBe(3);
  });
  it('a pin wins until cleared', () => {
    const q = new QualityController();
    q.pin(1);
    for (let i = 0; i < 5; i++) q.update(s(700));
    expect(q.tier).toBe(TIERS[1]);
    q.pin(undefined);
    expect(q.tierIndex).toBe(4);
  });
});

describe('keysyms for the embedded keyboard', () => {
  it('maps characters and named keys', () => {
    expect(keysymFor('a')?.keysym).toBe(0x61);
    expect(keysymFor(' ')?.keysym).toBe(0x20);
    expect(keysymFor('é')?.keysym).toBe(0xe9);
    expect(keysymFor('€')?.keysym).toBe(0x10020ac);
    expect(keysymFor('Enter')).toEqual({ keysym: 0xff0d, code: 'Enter' });
    expect(keysymFor('Backspace')?.keysym).toBe(0xff08);
    expect(keysymFor('ab')).toBeUndefined();
    expect(keysymFor('\u0001')).toBeUndefined();
  });
});
