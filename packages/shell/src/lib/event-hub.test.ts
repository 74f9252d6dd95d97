import { describe, expect, it } from 'vitest';
import type { SseEnd, SseMessage } from '../modules/sse.js';
import { EventHub, type HubEnd, type HubEvent, type HubTimers } from './event-hub.js';

/** One stream the fake follow opened: the test accepts, feeds and ends it. */
interface FakeStream {
  readonly path: string;
  readonly signal: AbortSignal;
  open(): void;
  push(data: unknown): void;
  end(e: SseEnd): void;
}

function setup() {
  const streams: FakeStream[] = [];
  const due: { fn: () => void; ms: number }[] = [];
  const timers: HubTimers = {
    set: (fn, ms) => {
      const t = { fn, ms };
      due.push(t);
      return t;
    },
    clear: (h) => void due.splice(due.indexOf(h as (typeof due)[number]), 1),
  };
  const hub = new EventHub({
    follow: (path, onMessage: (m: SseMessage) => void, signal, onOpen) =>
      new Promise<SseEnd>((resolve) => {
        signal.addEventListener('abort', () => resolve({ kind: 'aborted' }), { once: true });
        streams.push({
          path,
          signal,
          open: onOpen,
          push: (data) => onMessage({ type: 'transition', data }),
          end: resolve,
        });
      }),
    timers,
    backoffMs: 100,
    maxBackoffMs: 1000,
  });
  return { hub, streams, due };
}

/** A subscriber that records everything it hears. */
function listener(envId?: string) {
  const got: HubEvent[] = [];
  const ends: HubEnd[] = [];
  let opens = 0;
  return {
    got,
    ends,
    get opens() {
      return opens;
    },
    sub: {
      ...(envId !== undefined && { envId }),
      onEvent: (e: HubEvent) => void got.push(e),
      onOpen: () => void (opens += 1),
      onEnd: (e: HubEnd) => void ends.push(e),
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const ev = (envId: string, seq: number) => ({ envId, seq, type: 'transition' });

describe('EventHub', () => {
  it('opens one stream for any number of subscribers, and only while someone listens', async () => {
    const { hub, streams } = setup();
    expect(streams).toHaveLength(0);
    const subs = Array.from({ length: 8 }, (_, i) => hub.subscribe(listener(`e${i}`).sub));
    expect(streams.map((s) => s.path)).toEqual(['/api/events']);
    expect(hub.connections).toBe(1);
    streams[0]!.open();
    for (const s of subs.slice(1)) s.dispose();
    expect(streams[0]!.signal.aborted).toBe(false);
    subs[0]!.dispose();
    expect(streams[0]!.signal.aborted).toBe(true);
    expect(hub.size).toBe(0);
    await tick();
    expect(hub.connections).toBe(1); // no reconnect after the last one left
  });

  it('fans each event out to the subscribers of its environment and to those of all', () => {
    const { hub, streams } = setup();
    const a = listener('env_a');
    const b = listener('env_b');
    const all = listener();
    for (const l of [a, b, all]) hub.subscribe(l.sub);
    streams[0]!.open();
    streams[0]!.push(ev('env_a', 1));
    streams[0]!.push(ev('env_b', 1));
    streams[0]!.push(ev('env_a', 2));
    streams[0]!.push({ seq: 3 }); // no envId: not an environment event
    expect(a.got).toEqual([ev('env_a', 1), ev('env_a', 2)]);
    expect(b.got).toEqual([ev('env_b', 1)]);
    expect(all.got).toEqual([ev('env_a', 1), ev('env_b', 1), ev('env_a', 2)]);
  });

  it('says the stream is open to each subscriber, also to one that joins later', async () => {
    const { hub, streams } = setup();
    const early = listener('e1');
    hub.subscribe(early.sub);
    expect(early.opens).toBe(0);
    streams[0]!.open();
    expect(early.opens).toBe(1);
    const late = listener('e2');
    hub.subscribe(late.sub);
    await tick();
    expect(late.opens).toBe(1);
    expect(hub.isOpen).toBe(true);
  });

  it('reconnects with growing backoff after the stream drops, and says so again', async () => {
    const { hub, streams, due } = setup();
    const l = listener('e1');
    hub.subscribe(l.sub);
    streams[0]!.open();
    streams[0]!.end({ kind: 'closed' });
    await tick();
    expect(hub.isOpen).toBe(false);
    expect(due.map((d) => d.ms)).toEqual([100]);
    due.shift()!.fn();
    streams[1]!.end({ kind: 'failed', message: 'network' });
    await tick();
    due.shift()!.fn();
    streams[2]!.end({ kind: 'refused', status: 503, code: 'server.unavailable' });
    await tick();
    expect(due.map((d) => d.ms)).toEqual([400]); // 100, 200, 400 ...
    due.shift()!.fn();
    streams[3]!.open();
    expect(l.opens).toBe(2);
    streams[3]!.push(ev('e1', 9));
    expect(l.got).toEqual([ev('e1', 9)]);
    expect(l.ends).toEqual([]);
    // Back to the first delay after a successful open.
    streams[3]!.end({ kind: 'closed' });
    await tick();
    expect(due.map((d) => d.ms)).toEqual([100]);
    expect(hub.connections).toBe(4);
  });

  it('ends every subscriber when the daemon refuses the stream (locked elsewhere)', async () => {
    const { hub, streams, due } = setup();
    const a = listener('e1');
    const b = listener();
    hub.subscribe(a.sub);
    hub.subscribe(b.sub);
    streams[0]!.end({ kind: 'refused', status: 401, code: 'server.unauthenticated' });
    await tick();
    const end = { kind: 'refused', status: 401, code: 'server.unauthenticated' };
    expect(a.ends).toEqual([end]);
    expect(b.ends).toEqual([end]);
    expect(due).toEqual([]);
    expect(hub.size).toBe(0);
  });

  it('closes on lock: the stream is aborted, subscribers hear it, nobody is served after', async () => {
    const { hub, streams, due } = setup();
    const l = listener('e1');
    hub.subscribe(l.sub);
    streams[0]!.open();
    hub.close();
    expect(streams[0]!.signal.aborted).toBe(true);
    expect(l.ends).toEqual([{ kind: 'locked' }]);
    streams[0]!.push(ev('e1', 1));
    expect(l.got).toEqual([]);
    const after = listener();
    hub.subscribe(after.sub);
    expect(after.ends).toEqual([{ kind: 'locked' }]);
    await tick();
    expect(streams).toHaveLength(1);
    expect(due).toEqual([]);
  });

  it('a pending reconnect is dropped when the last subscriber leaves', async () => {
    const { hub, streams, due } = setup();
    const s = hub.subscribe(listener().sub);
    streams[0]!.end({ kind: 'closed' });
    await tick();
    expect(due).toHaveLength(1);
    s.dispose();
    expect(due).toEqual([]);
    hub.subscribe(listener().sub); // a new listener opens at once
    expect(streams).toHaveLength(2);
  });
});
