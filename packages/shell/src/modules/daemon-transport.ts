/**
 * How the broker reaches the daemon: same-origin fetch with the shell's session header. The token
 * stays in the shell's API client; modules never see it (they only see results and coded errors).
 */
import { RpcError } from '@virtos/module-sdk';
import { followSse, type SseEnd, type SseMessage } from './sse.js';

/** The daemon calls the broker makes. */
export interface DaemonTransport {
  /** JSON in, JSON out; throws {@link RpcError} with the daemon's code on failure. */
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Raw bytes out (downloads). */
  bytes(path: string): Promise<ArrayBuffer>;
  /** Raw bytes in (uploads), JSON out. */
  upload<T>(path: string, data: ArrayBuffer): Promise<T>;
  /**
   * Follows a Server-Sent Events stream until it ends or `signal` aborts (never rejects);
   * `onOpen` runs once the daemon accepted it.
   */
  follow(
    path: string,
    onMessage: (m: SseMessage) => void,
    signal: AbortSignal,
    onOpen?: () => void,
  ): Promise<SseEnd>;
}

/** What the transport needs from the shell: the session header (the shell's ApiClient has it). */
export interface SessionHeaders {
  authHeaders(): Record<string, string>;
}

async function failure(res: Response, path: string): Promise<RpcError> {
  let e: Record<string, unknown> = {};
  try {
    const j = (await res.json()) as { error?: Record<string, unknown> };
    e = j.error ?? {};
  } catch {
    // not JSON: fall through to a generic code
  }
  return new RpcError(
    typeof e['code'] === 'string' ? e['code'] : 'module.daemon_error',
    typeof e['message'] === 'string'
      ? e['message']
      : `The daemon answered ${res.status} for ${path}.`,
    typeof e['hint'] === 'string' ? e['hint'] : undefined,
  );
}

/** A transport over `fetch` to the daemon that served the shell. */
export function fetchTransport(
  session: SessionHeaders,
  fetchFn: typeof fetch = (...a) => fetch(...a),
): DaemonTransport {
  // SECURITY: relative paths only, so calls go to the daemon's own origin; the Authorization
  // header is added here, inside the shell, never handed to a module.
  const send = (method: string, path: string, init: RequestInit): Promise<Response> =>
    fetchFn(path, {
      method,
      cache: 'no-store',
      ...init,
      headers: { ...session.authHeaders(), ...(init.headers as Record<string, string>) },
    });
  return {
    async json<T>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await send(method, path, {
        ...(body !== undefined && {
          body: JSON.stringify(body),
          headers: { 'Content-Type': 'application/json' },
        }),
      });
      if (!res.ok) throw await failure(res, path);
      if (res.status === 204) return undefined as T;
      return (await res.json()) as T;
    },
    async bytes(path: string): Promise<ArrayBuffer> {
      const res = await send('GET', path, {});
      if (!res.ok) throw await failure(res, path);
      return res.arrayBuffer();
    },
    async upload<T>(path: string, data: ArrayBuffer): Promise<T> {
      const res = await send('PUT', path, {
        body: data,
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      if (!res.ok) throw await failure(res, path);
      return (await res.json()) as T;
    },
    follow(path, onMessage, signal, onOpen) {
      return followSse(session, path, onMessage, signal, fetchFn, onOpen);
    },
  };
}
