import { describe, expect, it } from 'vitest';
import { followSse, type SseMessage } from './sse.js';

const session = { authHeaders: () => ({ Authorization: 'Bearer tok' }) };

/** A fetch that answers with `chunks` as a streamed body and records the request. */
function streamingFetch(chunks: string[], seen: { url?: string; headers?: Headers }) {
  return (async (url: string | URL | Request, init?: RequestInit) => {
    seen.url = String(url);
    seen.headers = new Headers(init?.headers);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const ch of chunks) c.enqueue(new TextEncoder().encode(ch));
        c.close();
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  }) as typeof fetch;
}

describe('followSse', () => {
  it('sends the token as a header (not in the URL) and parses events split across chunks', async () => {
    const seen: { url?: string; headers?: Headers } = {};
    const got: (SseMessage | 'open')[] = [];
    const end = await followSse(
      session,
      '/api/events',
      (m) => got.push(m),
      new AbortController().signal,
      streamingFetch(
        [
          ': virtos events\n\n',
          'id: 1\nevent: transition\ndata: {"seq":1,"en',
          'vId":"e1"}\n\n: keep-alive\n\nid: 2\nevent: progress\ndata: not json\n\n',
          'id: 3\nevent: progress\ndata: {"seq":3}\n\n',
        ],
        seen,
      ),
      () => got.push('open'),
    );
    expect(seen.url).toBe('/api/events');
    expect(seen.headers?.get('authorization')).toBe('Bearer tok');
    expect(seen.headers?.get('accept')).toBe('text/event-stream');
    expect(got).toEqual([
      'open',
      { type: 'transition', id: '1', data: { seq: 1, envId: 'e1' } },
      { type: 'progress', id: '3', data: { seq: 3 } },
    ]);
    expect(end).toEqual({ kind: 'closed' });
  });

  it('reports a refused stream with the daemon code', async () => {
    const f = (async () =>
      new Response(JSON.stringify({ error: { code: 'server.unauthenticated' } }), {
        status: 401,
      })) as typeof fetch;
    let opens = 0;
    const end = await followSse(
      session,
      '/api/events',
      () => {},
      new AbortController().signal,
      f,
      () => (opens += 1),
    );
    expect(end).toEqual({ kind: 'refused', status: 401, code: 'server.unauthenticated' });
    expect(opens).toBe(0);
  });

  it('ends as aborted when the signal aborts mid-stream', async () => {
    const ac = new AbortController();
    const f = (async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode('event: x\ndata: {"a":1}\n\n'));
          },
        }),
      )) as typeof fetch;
    const got: SseMessage[] = [];
    const done = followSse(
      session,
      '/api/events',
      (m) => {
        got.push(m);
        ac.abort();
      },
      ac.signal,
      f,
    );
    expect(await done).toEqual({ kind: 'aborted' });
    expect(got).toHaveLength(1);
  });
});
