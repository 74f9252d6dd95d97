/**
 * Session tokens: what a client holds after unlocking the vault. 256-bit random tokens, kept only
 * in memory (as SHA-256 digests), compared in constant time, revoked all at once when the vault
 * locks, and expired after a period without use.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock, type Disposable } from '@virtos/core';
import { ServerErrors } from '../errors.js';

/** Options of {@link SessionManager}. */
export interface SessionManagerOptions {
  readonly clock?: Clock;
  /** A token unused for this long is dead, in ms (default 15 min). */
  readonly idleMs?: number;
  /** Called when every session has been idle for `idleMs` (the daemon locks the vault then). */
  readonly onIdle?: () => void;
  /** Failed unlocks allowed before back-off starts (default 5). */
  readonly freeAttempts?: number;
  /** First back-off in ms, doubled on each further failure up to 15 min (default 1 s). */
  readonly backoffMs?: number;
}

interface Session {
  readonly digest: Buffer;
  readonly createdAt: number;
  lastUsed: number;
}

/** The bytes of a token (256 bits). */
export const TOKEN_BYTES = 32;

/** Issues, checks and revokes session tokens; rate-limits unlock attempts. */
export class SessionManager implements Disposable {
  private sessions: Session[] = [];
  private readonly clock: Clock;
  private readonly idleMs: number;
  private idleTimer: Disposable | undefined;
  private failures = 0;
  private blockedUntil = 0;

  constructor(private readonly options: SessionManagerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.idleMs = options.idleMs ?? 15 * 60_000;
  }

  /** Number of live sessions. */
  get size(): number {
    return this.sessions.length;
  }

  /** Makes a new token. The caller hands it to the client once; only its digest is kept. */
  issue(): string {
    // SECURITY: 256 bits from the OS CSPRNG; unguessable, and never written anywhere by the daemon.
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const now = this.clock.now();
    this.sessions.push({ digest: digest(token), createdAt: now, lastUsed: now });
    this.armIdle();
    return token;
  }

  /** True when `token` belongs to a live session; marks the session used. */
  verify(token: string | undefined): boolean {
    if (token === undefined || token.length === 0 || token.length > 128) return false;
    const d = digest(token);
    const now = this.clock.now();
    this.sessions = this.sessions.filter((s) => now - s.lastUsed < this.idleMs);
    let found: Session | undefined;
    // SECURITY: compare fixed-length digests with timingSafeEqual and always visit every session,
    // so the time taken says nothing about how much of a token was right.
    for (const s of this.sessions) {
      if (timingSafeEqual(s.digest, d)) found = s;
    }
    if (!found) return false;
    found.lastUsed = now;
    this.armIdle();
    return true;
  }

  /**
   * A stable, non-secret id of the live session holding `token` (for binding stream tokens to a
   * session), or undefined when the token is not live. The id is a prefix of the token's SHA-256
   * digest: it names the session without being usable as a credential.
   */
  sessionId(token: string | undefined): string | undefined {
    if (token === undefined || !this.verify(token)) return undefined;
    return `sess_${digest(token).subarray(0, 12).toString('hex')}`;
  }

  /** Forgets one token (no error when unknown). */
  revoke(token: string): void {
    const d = digest(token);
    this.sessions = this.sessions.filter((s) => !timingSafeEqual(s.digest, d));
  }

  /** Forgets every token: the vault locked. */
  revokeAll(): void {
    this.sessions = [];
    this.idleTimer?.dispose();
    this.idleTimer = undefined;
  }

  /** Keeps sessions alive without a request (e.g. an open desktop stream). */
  touch(): void {
    const now = this.clock.now();
    for (const s of this.sessions) s.lastUsed = now;
    if (this.sessions.length) this.armIdle();
  }

  /**
   * Throws `server.too_many_attempts` while unlock attempts are blocked after failures. The vault's
   * Argon2id (~0.3 s a guess) already slows guessing; this stops a local process from running a
   * dictionary through the API at that rate.
   */
  checkAttempt(): void {
    const now = this.clock.now();
    if (now < this.blockedUntil) {
      const s = Math.ceil((this.blockedUntil - now) / 1000);
      throw ServerErrors.create('too_many_attempts', `Too many failed unlock attempts.`, {
        hint: `Wait ${s} s and try again.`,
        details: { retryAfterS: s },
      });
    }
  }

  /** Records a failed unlock: after the free attempts, back-off doubles each time. */
  recordFailure(): void {
    this.failures++;
    const free = this.options.freeAttempts ?? 5;
    if (this.failures > free) {
      const base = this.options.backoffMs ?? 1000;
      const wait = Math.min(base * 2 ** (this.failures - free - 1), 15 * 60_000);
      this.blockedUntil = this.clock.now() + wait;
    }
  }

  /** Records a successful unlock: the failure count starts again. */
  recordSuccess(): void {
    this.failures = 0;
    this.blockedUntil = 0;
  }

  /**
   * Arms the idle timer once; when it fires it re-arms itself for the time left after the latest
   * use, so a request costs no timer churn (the API's hot path).
   */
  private armIdle(delayMs = this.idleMs): void {
    const onIdle = this.options.onIdle;
    if (this.idleTimer || !onIdle || this.idleMs <= 0) return;
    this.idleTimer = this.clock.setTimeout(() => {
      this.idleTimer = undefined;
      const now = this.clock.now();
      const latest = Math.max(-Infinity, ...this.sessions.map((s) => s.lastUsed));
      if (now - latest < this.idleMs) return this.armIdle(this.idleMs - (now - latest));
      this.revokeAll();
      onIdle();
    }, delayMs);
  }

  dispose(): void {
    this.revokeAll();
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
