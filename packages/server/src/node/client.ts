/**
 * The daemon's client, used by the CLI: the same calls over HTTP to a running daemon, or in-process
 * (Fastify's inject) to a daemon built for one command (embedded mode). Errors come back as the
 * VirtosErrors the daemon sent, so the CLI maps them to exit codes exactly as for local errors.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Agent, fetch as undiciFetch } from 'undici';
import { VirtosError, type ErrorClass } from '@virtos/core';
import type {
  EnvironmentEvent,
  EnvironmentRecord,
  LifecycleState,
  ModifyResult,
} from '@virtos/orchestrator';
import type { EnvironmentSpec, Finding } from '@virtos/spec';
import { ServerErrors } from '../errors.js';
import { certificateFailure, pinnedTlsOptions, type CertificatePin } from './tls.js';

/** One HTTP exchange. */
export interface TransportResponse {
  readonly status: number;
  readonly contentType: string;
  /** The body as text (small bodies only; streams use `stream`). */
  readonly text: string;
}

/** How the client reaches a daemon. */
export interface Transport {
  request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<TransportResponse>;
  /** Reads a streaming response line by line (SSE, NDJSON); resolves when it ends. */
  stream(
    method: string,
    path: string,
    body: unknown,
    onLine: (line: string) => void,
    opts?: { accept?: string; signal?: AbortSignal },
  ): Promise<{ status: number; text?: string }>;
  /** True when each call waits for the whole answer (embedded): streams end only with the answer. */
  readonly isBuffered: boolean;
}

/**
 * Talks to a daemon over HTTP with a bearer token; to an https daemon with `pin` (from daemon.json),
 * trusting only the certificate it names.
 */
export class HttpTransport implements Transport {
  readonly isBuffered = false;
  private dispatcher: Agent | undefined;
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
    readonly pin?: CertificatePin,
  ) {}

  private headers(body: unknown, accept?: string): Record<string, string> {
    return {
      ...(this.token && { authorization: `Bearer ${this.token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...(accept && { accept }),
    };
  }

  private async fetch(
    method: string,
    path: string,
    body: unknown,
    accept?: string,
    signal?: AbortSignal,
  ) {
    const init = {
      method,
      headers: this.headers(body, accept),
      ...(body !== undefined && { body: JSON.stringify(body) }),
      ...(signal && { signal }),
    };
    try {
      if (this.pin === undefined) return await fetch(this.baseUrl + path, init);
      // SECURITY: certificate verification stays on; the pinned certificate is the only one
      // accepted (tls.ts pinnedTlsOptions), so a daemon impersonator gets no token or passphrase.
      this.dispatcher ??= new Agent({ connect: pinnedTlsOptions(this.pin) });
      return await undiciFetch(this.baseUrl + path, { ...init, dispatcher: this.dispatcher });
    } catch (e) {
      if (signal?.aborted) throw e;
      const untrusted = certificateFailure(e, this.baseUrl);
      if (untrusted) throw untrusted;
      throw ServerErrors.create(
        'daemon_unreachable',
        `No VirtOS daemon answers at ${this.baseUrl}.`,
        {
          hint: 'Start it with `virtos` (no arguments), or run without a daemon (embedded).',
          cause: e,
        },
      );
    }
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<TransportResponse> {
    const res = await this.fetch(method, path, body, undefined, signal);
    return {
      status: res.status,
      contentType: res.headers.get('content-type') ?? '',
      text: await res.text(),
    };
  }

  async stream(
    method: string,
    path: string,
    body: unknown,
    onLine: (line: string) => void,
    opts: { accept?: string; signal?: AbortSignal } = {},
  ): Promise<{ status: number; text?: string }> {
    const res = await this.fetch(method, path, body, opts.accept, opts.signal);
    if (res.status >= 300 || !res.body) return { status: res.status, text: await res.text() };
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      }
    } catch (e) {
      if (!opts.signal?.aborted) throw e;
    }
    if (buf) onLine(buf);
    return { status: res.status };
  }
}

/** Talks to a daemon in this process (embedded one-shot mode) through Fastify's inject. */
export class InjectTransport implements Transport {
  readonly isBuffered = true;
  constructor(
    private readonly app: FastifyInstance,
    private readonly host: string,
    private token: string | undefined,
  ) {}

  /** Sets the token after an in-process unlock. */
  setToken(token: string): void {
    this.token = token;
  }

  async request(method: string, path: string, body?: unknown): Promise<TransportResponse> {
    const res = await this.app.inject({
      method: method as 'GET',
      url: path,
      headers: {
        host: this.host,
        ...(this.token && { authorization: `Bearer ${this.token}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
    return {
      status: res.statusCode,
      contentType: String(res.headers['content-type'] ?? ''),
      text: res.body,
    };
  }

  async stream(
    method: string,
    path: string,
    body: unknown,
    onLine: (line: string) => void,
  ): Promise<{ status: number; text?: string }> {
    const r = await this.request(method, path, body);
    if (r.status >= 300) return { status: r.status, text: r.text };
    for (const line of r.text.split('\n')) onLine(line);
    return { status: r.status };
  }
}

/** What `create` answers: a record, or findings when the request did not compose. */
export type CreateOutcome =
  | { readonly ok: true; readonly record: EnvironmentRecord }
  | { readonly ok: false; readonly spec: EnvironmentSpec | null; readonly findings: Finding[] };

/** The daemon's API as typed calls. */
export class DaemonClient {
  constructor(readonly transport: Transport) {}

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    const r = await this.transport.request(method, path, body, signal);
    if (r.status >= 300) throw errorFrom(r.status, r.text);
    if (r.status === 204 || r.text === '') return undefined as T;
    return JSON.parse(r.text) as T;
  }

  health(): Promise<{ ok: true; version: string; vault: 'none' | 'locked' | 'unlocked' }> {
    return this.call('GET', '/api/health');
  }
  initVault(passphrase: string): Promise<{ token: string; recoveryKey: string }> {
    return this.call('POST', '/api/vault/init', { passphrase });
  }
  unlock(secret: { passphrase: string } | { recoveryKey: string }): Promise<{ token: string }> {
    return this.call('POST', '/api/session', secret);
  }
  lock(): Promise<void> {
    return this.call('DELETE', '/api/session');
  }
  compose(
    request: string,
    base?: EnvironmentSpec,
  ): Promise<{ ok: boolean; spec: EnvironmentSpec | null; findings: Finding[] }> {
    return this.call('POST', '/api/compose', { request, ...(base && { base }) });
  }
  async create(
    input: { request: string } | { spec: EnvironmentSpec },
    opts: { wait?: boolean; signal?: AbortSignal } = {},
  ): Promise<CreateOutcome> {
    const r = await this.transport.request(
      'POST',
      `/api/environments${opts.wait ? '?wait=true' : ''}`,
      input,
      opts.signal,
    );
    if (r.status === 422) {
      const b = JSON.parse(r.text) as { spec: EnvironmentSpec | null; findings: Finding[] };
      return { ok: false, spec: b.spec, findings: b.findings };
    }
    if (r.status >= 300) throw errorFrom(r.status, r.text);
    return { ok: true, record: JSON.parse(r.text) as EnvironmentRecord };
  }
  async list(state?: LifecycleState): Promise<EnvironmentRecord[]> {
    const r = await this.call<{ environments: EnvironmentRecord[] }>(
      'GET',
      `/api/environments${state ? `?state=${state}` : ''}`,
    );
    return r.environments;
  }
  get(id: string): Promise<EnvironmentRecord> {
    return this.call('GET', `/api/environments/${encodeURIComponent(id)}`);
  }
  modify(
    id: string,
    change: { request: string } | { spec: EnvironmentSpec },
  ): Promise<ModifyResult> {
    return this.call('PATCH', `/api/environments/${encodeURIComponent(id)}`, change);
  }
  /** A single-use stream token for `/streams/<id>` (seconds; a desktop's display or a shell). */
  streamToken(id: string): Promise<{ token: string; url: string; expiresAt: number }> {
    return this.call('POST', `/api/environments/${encodeURIComponent(id)}/stream-token`);
  }
  suspend(id: string): Promise<EnvironmentRecord> {
    return this.call('POST', `/api/environments/${encodeURIComponent(id)}/suspend`);
  }
  resume(id: string): Promise<EnvironmentRecord> {
    return this.call('POST', `/api/environments/${encodeURIComponent(id)}/resume`);
  }
  terminate(id: string): Promise<EnvironmentRecord> {
    return this.call('DELETE', `/api/environments/${encodeURIComponent(id)}`);
  }
  async events(id: string, since = 0): Promise<EnvironmentEvent[]> {
    const r = await this.call<{ events: EnvironmentEvent[] }>(
      'GET',
      `/api/environments/${encodeURIComponent(id)}/events?since=${since}`,
    );
    return r.events;
  }

  /**
   * Follows an environment's events (history after `since`, then live) until `until` returns true
   * or `signal` aborts. Over inject (embedded) it polls the history instead of streaming.
   */
  async follow(
    id: string,
    onEvent: (e: EnvironmentEvent) => void,
    opts: {
      since?: number;
      until?: (e: EnvironmentEvent) => boolean;
      signal?: AbortSignal;
      /** Embedded only: how long to keep polling, ms (default 15 min). */
      pollLimitMs?: number;
    } = {},
  ): Promise<void> {
    if (this.transport.isBuffered) {
      // In-process: poll the history (the orchestrator runs in this process, so it progresses
      // between polls); stops when `until` holds, the signal aborts, or after `pollLimitMs`.
      let since = opts.since ?? 0;
      const end = Date.now() + (opts.pollLimitMs ?? 15 * 60_000);
      while (!opts.signal?.aborted && Date.now() < end) {
        for (const e of await this.events(id, since)) {
          since = e.seq;
          onEvent(e);
          if (opts.until?.(e)) return;
        }
        if (!opts.until) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      return;
    }
    const ac = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal;
    const r = await this.transport.stream(
      'GET',
      `/api/environments/${encodeURIComponent(id)}/events?since=${opts.since ?? 0}`,
      undefined,
      (line) => {
        if (!line.startsWith('data: ')) return;
        const e = JSON.parse(line.slice(6)) as EnvironmentEvent;
        onEvent(e);
        if (opts.until?.(e)) ac.abort();
      },
      { accept: 'text/event-stream', signal },
    );
    if (r.status >= 300) throw errorFrom(r.status, r.text ?? '');
  }

  /** Runs a command; output chunks arrive through the callbacks; resolves with the exit code. */
  async exec(
    id: string,
    req: { args: readonly string[]; env?: Record<string, string> },
    out: { stdout: (s: string) => void; stderr: (s: string) => void },
    signal?: AbortSignal,
  ): Promise<number> {
    let exitCode: number | undefined;
    let failure: VirtosError | undefined;
    const r = await this.transport.stream(
      'POST',
      `/api/environments/${encodeURIComponent(id)}/exec`,
      req,
      (line) => {
        if (!line.trim()) return;
        const m = JSON.parse(line) as {
          stream?: 'stdout' | 'stderr';
          data?: string;
          exitCode?: number;
          error?: unknown;
        };
        if (m.stream && m.data !== undefined) out[m.stream](m.data);
        if (m.exitCode !== undefined) exitCode = m.exitCode;
        // The exec failed after its output began (the status was 200 already).
        if (m.error !== undefined) failure = errorFrom(500, line);
      },
      signal ? { signal } : {},
    );
    if (r.status >= 300) throw errorFrom(r.status, r.text ?? '');
    if (failure) throw failure;
    if (exitCode === undefined) {
      throw ServerErrors.create(
        'daemon_unreachable',
        `The exec in ${id} ended without an exit code.`,
      );
    }
    return exitCode;
  }
}

/** Rebuilds the daemon's coded error from an error response. */
export function errorFrom(status: number, text: string): VirtosError {
  try {
    const b = JSON.parse(text) as {
      error?: {
        code: string;
        class: ErrorClass;
        message: string;
        hint?: string;
        subject?: string;
        details?: Record<string, unknown>;
      };
    };
    if (b.error) {
      return new VirtosError(b.error.code, b.error.class, b.error.message, {
        ...(b.error.hint !== undefined && { hint: b.error.hint }),
        ...(b.error.subject !== undefined && { subject: b.error.subject }),
        ...(b.error.details !== undefined && { details: b.error.details }),
      });
    }
  } catch {
    // not JSON: fall through
  }
  return ServerErrors.create(
    'bad_response',
    `The daemon answered HTTP ${status} without an error code.`,
    {
      hint: 'Is another program listening on the daemon port?',
    },
  );
}

/** What `$VIRTOS_HOME/session.json` holds: where the daemon is and the CLI's token. */
export interface SessionFile {
  readonly url: string;
  readonly token: string;
}

/** What `$VIRTOS_HOME/daemon.json` holds while a daemon runs (no secret). */
export interface DaemonFile {
  readonly url: string;
  readonly pid: number;
  /** With TLS: the certificate the daemon serves, which the CLI pins. */
  readonly tls?: CertificatePin;
}

/** Paths of the files the CLI and the daemon share under `$VIRTOS_HOME`. */
export function homeFiles(home: string): { session: string; daemon: string } {
  return { session: join(home, 'session.json'), daemon: join(home, 'daemon.json') };
}

/** Writes a JSON file readable by the user only (0600), atomically enough for one writer. */
export async function writePrivateJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // SECURITY: created with mode 0600 (and chmod'ed in case it existed with a wider mode): the
  // session token lets anyone who reads it act as the user until the vault locks.
  await writeFile(path, JSON.stringify(value) + '\n', { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Reads a JSON file, or undefined when it is missing or unreadable. */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Removes a file; no error when it is missing. */
export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
