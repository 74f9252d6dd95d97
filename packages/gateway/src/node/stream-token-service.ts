/**
 * Stream tokens: the browser's only credential for a stream. The daemon's API issues one for an
 * (environment, session) pair after checking the session; the gateway consumes it at the WebSocket
 * upgrade. Tokens are 256-bit random, live for seconds, work once, and name one environment.
 */
import { createHash, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock, Result } from '@virtos/core';
import { err, ok, systemClock } from '@virtos/core';
import type { VirtosError } from '@virtos/core';
import { GatewayErrors } from '../common/errors.js';

/** Options of {@link StreamTokenService}. */
export interface StreamTokenServiceOptions {
  /** Time source; tokens expire by `clock.monotonic()` so wall-clock jumps do not extend them. */
  readonly clock?: Clock;
  /** Lifetime of a token in ms (default 15 000: long enough to open a window, short enough to be useless when leaked). */
  readonly ttlMs?: number;
  /** Random source (tests may pass a deterministic one). Must return `n` cryptographically random bytes. */
  readonly randomBytes?: (n: number) => Uint8Array;
  /** Maximum number of outstanding (unexpired, unused) tokens (default 10 000). */
  readonly maxOutstanding?: number;
}

/** A freshly issued token. */
export interface IssuedStreamToken {
  /** The secret to put in `?token=`: 43 base64url characters (256 bits). */
  readonly token: string;
  /** When it stops working, ms since the Unix epoch (for the API response). */
  readonly expiresAt: number;
  /** Its lifetime in ms. */
  readonly ttlMs: number;
}

/** What a verified token was bound to. */
export interface StreamTokenGrant {
  readonly envId: string;
  readonly sessionId: string;
}

interface Entry {
  readonly digest: Buffer;
  readonly envId: string;
  readonly sessionId: string;
  readonly expiresMono: number;
}

/** Token length in bytes: 256 bits. */
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Issues and verifies stream tokens. Keeps only SHA-256 digests of tokens, keyed by digest, so a
 * memory dump of the daemon does not yield usable tokens and lookups never compare secrets with `===`.
 */
export class StreamTokenService {
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly random: (n: number) => Uint8Array;
  private readonly maxOutstanding: number;
  private readonly entries = new Map<string, Entry>();

  constructor(options: StreamTokenServiceOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.ttlMs = options.ttlMs ?? 15_000;
    this.random = options.randomBytes ?? ((n) => nodeRandomBytes(n));
    this.maxOutstanding = options.maxOutstanding ?? 10_000;
    if (!(this.ttlMs > 0 && this.ttlMs <= 300_000)) {
      throw GatewayErrors.create(
        'invalid_request',
        `Stream token lifetime ${this.ttlMs} ms is out of range.`,
        {
          hint: 'Use a lifetime between 1 ms and 300 000 ms (seconds, not minutes).',
        },
      );
    }
  }

  /**
   * Issues a token for `envId` on behalf of `sessionId`. The caller (the daemon's API) must already
   * have checked that the session may view the environment.
   */
  issue(envId: string, sessionId: string): IssuedStreamToken {
    this.sweep();
    if (this.entries.size >= this.maxOutstanding) {
      throw GatewayErrors.create(
        'too_many_tokens',
        `Cannot issue a stream token for ${envId}: ${this.entries.size} tokens are outstanding.`,
        {
          subject: envId,
          hint: 'Tokens expire within seconds; retry shortly, and look for a client requesting tokens in a loop.',
        },
      );
    }
    // SECURITY: 256 bits from the CSPRNG; the token is unguessable, so its only weakness is leaking,
    // which the short lifetime, single use and environment binding limit.
    const bytes = this.random(TOKEN_BYTES);
    if (bytes.length !== TOKEN_BYTES) throw new Error('randomBytes returned the wrong length');
    const token = Buffer.from(bytes).toString('base64url');
    const digest = digestOf(token);
    this.entries.set(digest.toString('hex'), {
      digest,
      envId,
      sessionId,
      expiresMono: this.clock.monotonic() + this.ttlMs,
    });
    return { token, expiresAt: this.clock.now() + this.ttlMs, ttlMs: this.ttlMs };
  }

  /**
   * Verifies `token` for `envId` and consumes it: whatever the outcome, a token presented once never
   * works again (a token tried against the wrong environment is burnt too).
   */
  consume(token: string | undefined | null, envId: string): Result<StreamTokenGrant, VirtosError> {
    if (!token) {
      return err(
        GatewayErrors.create('token_missing', `No stream token for ${envId}.`, {
          subject: envId,
          hint: 'Ask the API for a stream token (POST /environments/<id>/stream-token) and pass it as ?token=.',
        }),
      );
    }
    const refused = err(
      GatewayErrors.create(
        'token_invalid',
        `The stream token for ${envId} is invalid, expired or already used.`,
        {
          subject: envId,
          hint: 'Tokens work once and expire within seconds: ask the API for a fresh one right before connecting.',
        },
      ),
    );
    if (!TOKEN_PATTERN.test(token)) return refused;
    const digest = digestOf(token);
    const key = digest.toString('hex');
    const entry = this.entries.get(key);
    if (!entry) return refused;
    // SECURITY: single use. Delete before any other check so a replay races nothing.
    this.entries.delete(key);
    // SECURITY: constant-time comparison of the digests (the map lookup compared hashes of the
    // secret, which leak nothing useful; this guards against any future lookup change).
    if (!timingSafeEqual(entry.digest, digest)) return refused;
    // SECURITY: expiry by the monotonic clock.
    if (this.clock.monotonic() >= entry.expiresMono) return refused;
    // SECURITY: bound to one environment; compare in constant time too (ids are not secret, but
    // this keeps the whole check free of early exits on content).
    const want = Buffer.from(entry.envId, 'utf8');
    const got = Buffer.from(envId, 'utf8');
    if (want.length !== got.length || !timingSafeEqual(want, got)) return refused;
    return ok({ envId: entry.envId, sessionId: entry.sessionId });
  }

  /**
   * Pre-checks `token` for `envId` WITHOUT consuming it when it is valid, for a router that must
   * authenticate an upgrade before handing it to the gateway (which then consumes the token). A
   * token that fails the check (wrong environment, expired) is burnt, exactly as {@link consume}
   * would burn it, so probing with a leaked token costs the token.
   */
  check(token: string | undefined | null, envId: string): boolean {
    if (!token || !TOKEN_PATTERN.test(token)) return false;
    const digest = digestOf(token);
    const key = digest.toString('hex');
    const entry = this.entries.get(key);
    if (!entry) return false;
    const want = Buffer.from(entry.envId, 'utf8');
    const got = Buffer.from(envId, 'utf8');
    const good =
      timingSafeEqual(entry.digest, digest) &&
      this.clock.monotonic() < entry.expiresMono &&
      want.length === got.length &&
      timingSafeEqual(want, got);
    // SECURITY: a failed presentation burns the token, as consume() does.
    if (!good) this.entries.delete(key);
    return good;
  }

  /** Drops every outstanding token of a session (on logout or lock). Returns how many. */
  revokeSession(sessionId: string): number {
    let n = 0;
    for (const [key, e] of this.entries) {
      if (e.sessionId === sessionId) {
        this.entries.delete(key);
        n++;
      }
    }
    return n;
  }

  /** Drops every outstanding token of an environment (on suspend or terminate). Returns how many. */
  revokeEnvironment(envId: string): number {
    let n = 0;
    for (const [key, e] of this.entries) {
      if (e.envId === envId) {
        this.entries.delete(key);
        n++;
      }
    }
    return n;
  }

  /** Number of outstanding, unexpired tokens. */
  get outstanding(): number {
    this.sweep();
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.clock.monotonic();
    for (const [key, e] of this.entries) if (now >= e.expiresMono) this.entries.delete(key);
  }
}
