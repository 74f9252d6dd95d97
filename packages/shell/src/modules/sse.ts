/**
 * Follows one of the daemon's Server-Sent Events streams with `fetch`, so the session token
 * travels in the Authorization header (a browser `EventSource` cannot send headers, and a token in
 * a URL would end up in logs and history). The bytes are parsed by `eventsource-parser`.
 */
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { SessionHeaders } from './daemon-transport.js';

/** The largest event the shell accepts, in characters (environment events are far smaller). */
const MAX_EVENT_CHARS = 256 * 1024;

/** One event of a stream: its `event:` type, `id:` and the parsed JSON of `data:`. */
export interface SseMessage {
  readonly type: string;
  readonly id?: string;
  readonly data: unknown;
}

/** Why a followed stream ended. */
export type SseEnd =
  | { readonly kind: 'closed' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'refused'; readonly status: number; readonly code: string }
  | { readonly kind: 'failed'; readonly message: string };

/**
 * Reads the SSE stream at `path` (same origin) until it ends or `signal` aborts; calls `onMessage`
 * for each event whose data is JSON, and `onOpen` once the daemon accepted the stream (events
 * from then on arrive; a follower that needs earlier ones reads the history after this).
 * Resolves with why it ended; never rejects.
 */
export async function followSse(
  session: SessionHeaders,
  path: string,
  onMessage: (m: SseMessage) => void,
  signal: AbortSignal,
  fetchFn: typeof fetch = (...a) => fetch(...a),
  onOpen?: () => void,
): Promise<SseEnd> {
  let res: Response;
  try {
    // SECURITY: relative path (the daemon's origin only); the token goes in a header, never in
    // the URL; no caching of a stream that carries vault-derived state.
    res = await fetchFn(path, {
      method: 'GET',
      cache: 'no-store',
      headers: { ...session.authHeaders(), Accept: 'text/event-stream' },
      signal,
    });
  } catch (e) {
    return signal.aborted ? { kind: 'aborted' } : { kind: 'failed', message: String(e) };
  }
  if (!res.ok || !res.body) {
    let code = 'unknown';
    try {
      const j = (await res.json()) as { error?: { code?: unknown } };
      if (typeof j.error?.code === 'string') code = j.error.code;
    } catch {
      // not JSON
    }
    return { kind: 'refused', status: res.status, code };
  }
  if (signal.aborted) return { kind: 'aborted' };
  onOpen?.();
  const reader = res.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream({ maxBufferSize: MAX_EVENT_CHARS }))
    .getReader();
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return signal.aborted ? { kind: 'aborted' } : { kind: 'closed' };
      let data: unknown;
      try {
        data = JSON.parse(value.data);
      } catch {
        continue; // not JSON: not one of the daemon's events
      }
      onMessage({
        type: value.event ?? 'message',
        ...(value.id !== undefined && { id: value.id }),
        data,
      });
    }
  } catch (e) {
    return signal.aborted ? { kind: 'aborted' } : { kind: 'failed', message: String(e) };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
