import { describe, expect, it } from 'vitest';
import { ManualClock } from '@virtos/core';
import { SessionManager } from './session-manager.js';

describe('SessionManager', () => {
  it('issues 256-bit tokens that verify; others do not', () => {
    const s = new SessionManager({ clock: new ManualClock(0) });
    const a = s.issue();
    const b = s.issue();
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(s.verify(a)).toBe(true);
    expect(s.verify(b)).toBe(true);
    expect(s.verify(a.slice(0, -1) + (a.endsWith('A') ? 'B' : 'A'))).toBe(false);
    expect(s.verify(undefined)).toBe(false);
    expect(s.verify('')).toBe(false);
  });

  it('expires tokens after idle, revokes one or all', () => {
    const clock = new ManualClock(0);
    const s = new SessionManager({ clock, idleMs: 1000 });
    const a = s.issue();
    clock.advance(999);
    expect(s.verify(a)).toBe(true);
    clock.advance(1000);
    expect(s.verify(a)).toBe(false);
    const b = s.issue();
    const c = s.issue();
    s.revoke(b);
    expect(s.verify(b)).toBe(false);
    expect(s.verify(c)).toBe(true);
    s.revokeAll();
    expect(s.verify(c)).toBe(false);
  });

  it('calls onIdle once every session was idle', () => {
    const clock = new ManualClock(0);
    let idle = 0;
    const s = new SessionManager({ clock, idleMs: 1000, onIdle: () => idle++ });
    const a = s.issue();
    clock.advance(800);
    s.verify(a);
    clock.advance(800);
    expect(idle).toBe(0);
    clock.advance(300);
    expect(idle).toBe(1);
    expect(s.size).toBe(0);
  });

  it('backs off exponentially after the free attempts, and resets on success', () => {
    const clock = new ManualClock(0);
    const s = new SessionManager({ clock, freeAttempts: 2, backoffMs: 1000 });
    s.recordFailure();
    s.recordFailure();
    expect(() => s.checkAttempt()).not.toThrow();
    s.recordFailure();
    expect(() => s.checkAttempt()).toThrow(/Too many/);
    clock.advance(1000);
    expect(() => s.checkAttempt()).not.toThrow();
    s.recordFailure();
    clock.advance(1500);
    expect(() => s.checkAttempt()).toThrow();
    clock.advance(600);
    s.recordSuccess();
    expect(() => s.checkAttempt()).not.toThrow();
  });
});
