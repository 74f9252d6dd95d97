/**
 * The shell's client for the daemon API. The session token lives in this object's private field
 * only: never in localStorage, sessionStorage, cookies or the URL, so a reload (which is how the
 * shell locks) forgets it.
 */

/** An error answered by the daemon (`{ error: { code, class, message, hint } }`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly errorClass: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** `GET /api/health`. */
export interface Health {
  readonly ok: true;
  readonly version: string;
  readonly vault: 'none' | 'locked' | 'unlocked';
}

/** `GET /api/shell/canary`. */
export interface CanaryStatus {
  readonly state: 'ok' | 'mismatch' | 'unbuilt';
  readonly checkedAt: number;
  readonly count: number;
  readonly mismatches: readonly { part: string; path: string; problem: string }[];
  readonly manifestDigest?: string;
}

/** `POST /api/environments/:id/stream-token`: single use, lives seconds. */
export interface StreamTokenReply {
  readonly token: string;
  /** Same-origin path of the stream, token included (`/streams/<id>?token=…`). */
  readonly url: string;
  /** ms since the Unix epoch. */
  readonly expiresAt: number;
}

/** One open stream's figures from `GET /api/environments/:id/stream-stats` (a subset). */
export interface StreamStatsReply {
  readonly id: string;
  readonly bytesToClientPerSecond: number;
  readonly bytesFromClientPerSecond: number;
  readonly updatesPerSecond: number;
  /** WebSocket ping round trip, ms. */
  readonly rttMs: number | null;
  /** Input-to-update latency, ms. */
  readonly inputToUpdateMs: { last: number; p50: number; p99: number; samples: number } | null;
  readonly bufferedToClient: number;
}

/** A new session. */
export interface TokenReply {
  readonly token: string;
  readonly expiresAfterIdleS: number;
}

/** Typed calls to the daemon; one instance per page. */
export class ApiClient {
  #token: string | undefined;
  /**
   * Called when the daemon refuses our token (it locked on its own idle timer, or from another
   * client): the shell then wipes itself as on a lock.
   */
  onDidLoseSession: (() => void) | undefined;

  /** @param fetchFn injected for tests. */
  constructor(private readonly fetchFn: typeof fetch = (...a) => fetch(...a)) {}

  /** True while a session token is held. */
  get hasSession(): boolean {
    return this.#token !== undefined;
  }

  /** Forgets the token (lock). */
  forget(): void {
    this.#token = undefined;
  }

  /** The bearer header for other parts of the shell (the module broker) to call the API. */
  authHeaders(): Record<string, string> {
    return this.#token ? { Authorization: `Bearer ${this.#token}` } : {};
  }

  /** One request; JSON in and out; throws {@link ApiError}. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { ...this.authHeaders() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    // SECURITY: same-origin only (relative paths), no credentials mode needed: the token travels
    // in the Authorization header, so no ambient cookie can be abused cross-site.
    const res = await this.fetchFn(path, {
      method,
      headers,
      cache: 'no-store',
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiError(res.status, 'shell.bad_response', 'internal', `Bad answer from ${path}.`);
    }
    if (!res.ok) {
      const e = (json as { error?: Record<string, string> } | undefined)?.error ?? {};
      if (e['code'] === 'server.unauthenticated' && this.#token !== undefined) {
        // SECURITY: a dead token means the vault locked: forget it and let the shell wipe.
        this.#token = undefined;
        this.onDidLoseSession?.();
      }
      throw new ApiError(
        res.status,
        e['code'] ?? 'unknown',
        e['class'] ?? 'internal',
        e['message'] ?? `HTTP ${res.status}`,
        e['hint'],
      );
    }
    return json as T;
  }

  private take(r: TokenReply): void {
    this.#token = r.token;
  }

  health(): Promise<Health> {
    return this.request('GET', '/api/health');
  }

  /** First run: creates the vault; returns the recovery key (shown once). */
  async init(passphrase: string): Promise<{ recoveryKey: string }> {
    const r = await this.request<TokenReply & { recoveryKey: string }>('POST', '/api/vault/init', {
      passphrase,
    });
    this.take(r);
    return { recoveryKey: r.recoveryKey };
  }

  async unlock(secret: { passphrase: string } | { recoveryKey: string }): Promise<void> {
    this.take(await this.request<TokenReply>('POST', '/api/session', secret));
  }

  /** Locks the vault on the daemon (every token dies) and forgets ours. */
  async lock(): Promise<void> {
    try {
      if (this.#token) await this.request('DELETE', '/api/session');
    } finally {
      this.forget();
    }
  }

  canary(): Promise<CanaryStatus> {
    return this.request('GET', '/api/shell/canary');
  }

  settings(): Promise<Record<string, unknown>> {
    return this.request('GET', '/api/shell/settings');
  }

  putSetting(key: 'layout' | 'prefs', value: unknown): Promise<void> {
    return this.request('PUT', `/api/shell/settings/${key}`, { value });
  }

  passkeyOptions(): Promise<{ challenge: string; credentials: { id: string; prfSalt: string }[] }> {
    return this.request('GET', '/api/passkey/options');
  }

  async passkeyUnlock(body: Record<string, string>): Promise<void> {
    this.take(await this.request<TokenReply>('POST', '/api/passkey/unlock', body));
  }

  passkeyEnrolOptions(): Promise<{
    challenge: string;
    userId: string;
    prfSalt: string;
    algs: number[];
    exclude: string[];
  }> {
    return this.request('POST', '/api/passkey/enrol/options', {});
  }

  passkeyEnrol(body: Record<string, string | number>): Promise<{ id: string }> {
    return this.request('POST', '/api/passkey/enrol', body);
  }

  /** A fresh single-use token for the display stream of a running desktop environment. */
  streamToken(id: string): Promise<StreamTokenReply> {
    return this.request('POST', `/api/environments/${encodeURIComponent(id)}/stream-token`, {});
  }

  /** Figures of the environment's open streams (the viewer's overlay polls this). */
  streamStats(id: string): Promise<StreamStatsReply[]> {
    return this.request('GET', `/api/environments/${encodeURIComponent(id)}/stream-stats`);
  }
}

/** The page's one client. */
export const api = new ApiClient();
