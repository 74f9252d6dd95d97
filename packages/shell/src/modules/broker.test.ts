import { describe, expect, it } from 'vitest';
import {
  CAPABILITIES,
  ENV_EVENT,
  ENV_WATCH_END,
  METHOD_CAPABILITY,
  type Capability,
} from '@virtos/module-sdk';
import { EventHub, type HubTimers } from '../lib/event-hub.js';
import { ModuleBroker, type BrokerDecision, type BrokerHooks } from './broker.js';
import type { DaemonTransport } from './daemon-transport.js';
import { validateManifest } from './manifest.js';
import type { SseEnd, SseMessage } from './sse.js';

/** A stream the fake transport follows: the test pushes messages and ends it. */
interface FakeStream {
  readonly path: string;
  readonly signal: AbortSignal;
  /** The daemon accepted the stream. */
  open(): void;
  push(m: SseMessage): void;
  end(e: SseEnd): void;
}

/** Records what would have gone to the daemon; `history` answers the JSON events route. */
function fakeTransport(): DaemonTransport & {
  calls: string[];
  streams: FakeStream[];
  history: Map<string, { seq: number; envId: string; type: string }[]>;
} {
  const calls: string[] = [];
  const streams: FakeStream[] = [];
  const history = new Map<string, { seq: number; envId: string; type: string }[]>();
  return {
    calls,
    streams,
    history,
    follow(path, onMessage, signal, onOpen) {
      calls.push(`FOLLOW ${path}`);
      return new Promise<SseEnd>((resolve) => {
        signal.addEventListener('abort', () => resolve({ kind: 'aborted' }), { once: true });
        streams.push({ path, signal, open: () => onOpen?.(), push: onMessage, end: resolve });
      });
    },
    async json<T>(method: string, path: string, body?: unknown) {
      calls.push(`${method} ${path}${body === undefined ? '' : ` ${JSON.stringify(body)}`}`);
      const h = /^\/api\/environments\/([^/]+)\/events\?since=(\d+)$/.exec(path);
      if (h) {
        const since = Number(h[2]);
        return { events: (history.get(h[1]!) ?? []).filter((e) => e.seq > since) } as T;
      }
      return { value: 'v' } as T;
    },
    async bytes(path: string) {
      calls.push(`BYTES ${path}`);
      return new ArrayBuffer(2);
    },
    async upload<T>(path: string, data: ArrayBuffer) {
      calls.push(`UPLOAD ${path} ${data.byteLength}`);
      return {} as T;
    },
  };
}

/** Timers the test fires by hand (the hub's reconnect backoff). */
function manualTimers(): HubTimers & { due: { fn: () => void; ms: number }[] } {
  const due: { fn: () => void; ms: number }[] = [];
  return {
    due,
    set: (fn, ms) => {
      const t = { fn, ms };
      due.push(t);
      return t;
    },
    clear: (h) => void due.splice(due.indexOf(h as (typeof due)[number]), 1),
  };
}

function broker(grants: Capability[], hooks: BrokerHooks = { download: () => undefined }) {
  const t = fakeTransport();
  const timers = manualTimers();
  // The real hub over the fake transport: the broker's watches go through the shared stream.
  const hub = new EventHub({
    follow: (path, onMessage, signal, onOpen) => t.follow(path, onMessage, signal, onOpen),
    timers,
  });
  const decisions: BrokerDecision[] = [];
  const b = new ModuleBroker({
    moduleId: 'notes',
    grants,
    transport: t,
    events: hub,
    onDecision: (d) => decisions.push(d),
    hooks,
  });
  const pushed: [string, unknown][] = [];
  b.attach((event, data) => pushed.push([event, data]));
  return { b, t, hub, timers, decisions, pushed };
}

/** A flush of pending promise callbacks. */
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('broker capability checks', () => {
  it('forwards granted calls and refuses others before they reach the daemon', async () => {
    const { b, t, decisions } = broker(['notes:read']);
    await b.handle('notes.list', {});
    expect(t.calls).toEqual(['GET /api/notes']);
    await expect(b.handle('notes.create', { title: 'x' })).rejects.toMatchObject({
      code: 'module.capability_denied',
    });
    await expect(b.handle('files.list', {})).rejects.toMatchObject({
      code: 'module.capability_denied',
    });
    expect(t.calls).toEqual(['GET /api/notes']);
    expect(decisions.map((d) => `${d.method}:${d.allowed}`)).toEqual([
      'notes.list:true',
      'notes.create:false',
      'files.list:false',
    ]);
  });

  it('checks every method in the table against every single grant', async () => {
    for (const cap of CAPABILITIES) {
      const { b } = broker([cap]);
      for (const [method, needed] of Object.entries(METHOD_CAPABILITY)) {
        expect(b.isAllowed(method), `${method} with ${cap}`).toBe(
          needed === null || needed === cap,
        );
      }
    }
  });

  it('refuses unknown methods, including prototype names', async () => {
    const { b, t } = broker([...CAPABILITIES]);
    for (const m of ['fetch', 'toString', '__proto__', 'constructor', 'notes.list2']) {
      await expect(b.handle(m, {})).rejects.toMatchObject({ code: 'module.unknown_method' });
    }
    expect(t.calls).toEqual([]);
  });

  it('validates parameters and encodes path segments', async () => {
    const { b, t } = broker(['notes:read', 'notes:write', 'files:write', 'search']);
    await expect(b.handle('notes.get', { id: '../../session' })).rejects.toMatchObject({
      code: 'module.bad_params',
    });
    await expect(b.handle('notes.create', { title: 'a', extra: 1 })).rejects.toMatchObject({
      code: 'module.bad_params',
    });
    await expect(b.handle('files.put', { name: 'a', data: 'not bytes' })).rejects.toMatchObject({
      code: 'module.bad_params',
    });
    await b.handle('search.query', { q: 'a&limit=1000' });
    await b.handle('files.put', { name: 'a b.txt', data: new ArrayBuffer(3), mime: 'text/plain' });
    expect(t.calls).toEqual([
      'GET /api/search?q=a%26limit%3D1000',
      'UPLOAD /api/files?name=a%20b.txt&mime=text%2Fplain 3',
    ]);
  });

  it("scopes storage to the module's own id whatever the module sends", async () => {
    const { b, t } = broker([]);
    await b.handle('storage.set', { key: 'k', value: 1 });
    await expect(
      b.handle('storage.set', { key: 'k', value: 1, id: 'other' }),
    ).rejects.toMatchObject({ code: 'module.bad_params' });
    expect(t.calls).toEqual(['PUT /api/modules/notes/data/k {"value":1}']);
  });

  it('answers ai.summarize with a coded unavailable error when granted', async () => {
    const { b } = broker(['ai:summarize']);
    await expect(b.handle('ai.summarize', { text: 'x' })).rejects.toMatchObject({
      code: 'module.unavailable',
    });
  });
});

/** The environment methods and, for each, valid parameters and what reaches the daemon. */
const ENV_CALLS: [string, unknown, string[]][] = [
  ['environments.compose', { request: 'a desktop' }, ['POST /api/compose {"request":"a desktop"}']],
  [
    'environments.create',
    { spec: { name: 'x' } },
    ['POST /api/environments {"spec":{"name":"x"}}'],
  ],
  ['environments.list', {}, ['GET /api/environments']],
  ['environments.get', { id: 'env_1' }, ['GET /api/environments/env_1']],
  ['environments.suspend', { id: 'env_1' }, ['POST /api/environments/env_1/suspend']],
  ['environments.resume', { id: 'env_1' }, ['POST /api/environments/env_1/resume']],
  ['environments.terminate', { id: 'env_1' }, ['DELETE /api/environments/env_1']],
  [
    'environments.events',
    { id: 'env_1', since: 3 },
    ['GET /api/environments/env_1/events?since=3'],
  ],
  ['environments.watch', { id: 'env_1' }, ['GET /api/environments/env_1', 'FOLLOW /api/events']],
  ['environments.unwatch', {}, []],
  ['shell.openEnvironment', { id: 'env_1' }, ['GET /api/environments/env_1']],
];

describe('broker: environments, events and windows', () => {
  it('every environment method x every grant: forwarded only with environments:manage', async () => {
    expect(ENV_CALLS.map(([m]) => m).sort()).toEqual(
      Object.entries(METHOD_CAPABILITY)
        .filter(([, c]) => c === 'environments:manage')
        .map(([m]) => m)
        .sort(),
    );
    for (const cap of CAPABILITIES) {
      for (const [method, params, expected] of ENV_CALLS) {
        const opened: string[] = [];
        const { b, t } = broker([cap], { openEnvironment: (id) => void opened.push(id) });
        if (cap === 'environments:manage') {
          await b.handle(method, params);
          expect(t.calls, `${method} with ${cap}`).toEqual(expected);
          expect(opened).toEqual(method === 'shell.openEnvironment' ? ['env_1'] : []);
        } else {
          await expect(b.handle(method, params), `${method} with ${cap}`).rejects.toMatchObject({
            code: 'module.capability_denied',
          });
          expect(t.calls).toEqual([]);
          expect(opened).toEqual([]);
          expect(b.isWatching).toBe(false);
        }
      }
    }
  });

  it('refuses bad environment parameters before the daemon sees them', async () => {
    const { b, t } = broker(['environments:manage'], { openEnvironment: () => undefined });
    for (const [method, params] of [
      ['environments.get', { id: '../session' }],
      ['environments.events', { id: 'env_1', since: -1 }],
      ['environments.watch', { id: 'a/b' }],
      ['environments.watch', { all: true }],
      ['environments.unwatch', { id: 'env_1' }],
      ['shell.openEnvironment', { id: '' }],
      ['shell.openEnvironment', { id: 'env_1', url: 'http://x' }],
      ['environments.create', { request: 'x', owner: 'root' }],
    ] as const) {
      await expect(b.handle(method, params), method).rejects.toMatchObject({
        code: 'module.bad_params',
      });
    }
    expect(t.calls).toEqual([]);
  });

  it('relays events of a watch, ends it on unwatch, and replaces an earlier watch', async () => {
    const { b, t, hub, pushed } = broker(['environments:manage']);
    await b.handle('environments.watch', {});
    expect(t.calls).toEqual(['FOLLOW /api/events']);
    const stream = t.streams[0]!;
    stream.open();
    const ev = { seq: 1, at: 1, envId: 'env_1', type: 'transition', message: 'm', to: 'running' };
    stream.push({ type: 'transition', data: ev });
    stream.push({ type: 'message', data: { not: 'an event' } });
    expect(pushed).toEqual([[ENV_EVENT, ev]]);

    // A watch of env_2 after seq 4: its history first, then live events, each once, and no
    // event of another environment. The shared stream stays the one already open.
    t.history.set(
      'env_2',
      [5, 6].map((seq) => ({ seq, envId: 'env_2', type: 'progress' })),
    );
    await b.handle('environments.watch', { id: 'env_2', since: 4 });
    stream.push({ type: 'progress', data: { seq: 6, envId: 'env_2', type: 'progress' } });
    await tick();
    expect(t.streams).toHaveLength(1);
    expect(stream.signal.aborted).toBe(false);
    expect(hub.size).toBe(1);
    stream.push({ type: 'progress', data: { seq: 7, envId: 'env_2', type: 'progress' } });
    stream.push({ type: 'transition', data: { ...ev, seq: 2 } });
    expect(pushed.slice(1).map(([, d]) => (d as { seq: number }).seq)).toEqual([5, 6, 7]);
    expect(t.calls).toContain('GET /api/environments/env_2/events?since=4');

    await b.handle('environments.unwatch', {});
    expect(stream.signal.aborted).toBe(true); // the last listener left: the stream closes
    expect(b.isWatching).toBe(false);
    await tick();
    expect(pushed).toHaveLength(4); // an unwatch is not reported as an end
  });

  it('refills what a watch missed while the shared stream reconnected', async () => {
    const { b, t, timers, pushed } = broker(['environments:manage']);
    await b.handle('environments.watch', { id: 'env_1' });
    t.streams[0]!.open();
    t.streams[0]!.push({ type: 'progress', data: { seq: 1, envId: 'env_1', type: 'progress' } });
    await tick();
    t.streams[0]!.end({ kind: 'closed' }); // e.g. the daemon restarted
    await tick();
    expect(pushed.map(([e]) => e)).toEqual([ENV_EVENT]); // not an end: the hub reconnects
    t.history.set(
      'env_1',
      [1, 2, 3].map((seq) => ({ seq, envId: 'env_1', type: 'progress' })),
    );
    timers.due.shift()!.fn();
    t.streams[1]!.open();
    await tick();
    expect(pushed.map(([, d]) => (d as { seq: number }).seq)).toEqual([1, 2, 3]);
    expect(t.calls.at(-1)).toBe('GET /api/environments/env_1/events?since=1');
  });

  it('tells the module when the stream ends for good (refusal, lock) and stops on dispose', async () => {
    const { b, t, hub, pushed } = broker(['environments:manage']);
    await b.handle('environments.watch', {});
    t.streams[0]!.end({ kind: 'refused', status: 401, code: 'server.unauthenticated' });
    await tick();
    expect(pushed).toEqual([[ENV_WATCH_END, 'refused: server.unauthenticated']]);
    expect(b.isWatching).toBe(false);

    await b.handle('environments.watch', {});
    hub.close(); // the shell locks
    expect(t.streams[1]!.signal.aborted).toBe(true);
    expect(pushed.at(-1)).toEqual([ENV_WATCH_END, 'locked']);
    expect(b.isWatching).toBe(false);

    const other = broker(['environments:manage']);
    await other.b.handle('environments.watch', {});
    other.b.dispose();
    expect(other.t.streams[0]!.signal.aborted).toBe(true);
    expect(other.b.isWatching).toBe(false);
  });

  it('a watch whose module window closed while it waited for the daemon starts nothing', async () => {
    const { b, t, hub } = broker(['environments:manage']);
    let answer: (v: unknown) => void = () => undefined;
    t.json = <T>() => new Promise<T>((r) => (answer = r as (v: unknown) => void));
    const watching = b.handle('environments.watch', { id: 'env_1' });
    await tick();
    b.dispose();
    answer({ id: 'env_1' });
    await watching;
    expect(t.streams).toEqual([]);
    expect(hub.size).toBe(0);
    expect(b.isWatching).toBe(false);
  });

  it('the watches of several modules share one stream', async () => {
    const first = broker(['environments:manage']);
    const second = new ModuleBroker({
      moduleId: 'environments',
      grants: ['environments:manage'],
      transport: first.t,
      events: first.hub,
    });
    const got: unknown[] = [];
    second.attach((_, d) => got.push(d));
    await first.b.handle('environments.watch', {});
    await second.handle('environments.watch', { id: 'env_1' });
    expect(first.t.calls.filter((c) => c.startsWith('FOLLOW'))).toEqual(['FOLLOW /api/events']);
    first.t.streams[0]!.open();
    await tick();
    first.t.streams[0]!.push({ type: 'progress', data: { seq: 1, envId: 'env_1' } });
    first.t.streams[0]!.push({ type: 'progress', data: { seq: 1, envId: 'env_2' } });
    expect(first.pushed).toHaveLength(2);
    expect(got).toEqual([{ seq: 1, envId: 'env_1' }]);
  });

  it('an unknown environment fails watch and open with the daemon error, nothing started', async () => {
    const opened: string[] = [];
    const { b, t } = broker(['environments:manage'], {
      openEnvironment: (id) => void opened.push(id),
    });
    t.json = async () => {
      throw Object.assign(new Error('no such environment'), { code: 'orchestrator.not_found' });
    };
    await expect(b.handle('environments.watch', { id: 'env_x' })).rejects.toMatchObject({
      code: 'orchestrator.not_found',
    });
    await expect(b.handle('shell.openEnvironment', { id: 'env_x' })).rejects.toMatchObject({
      code: 'orchestrator.not_found',
    });
    expect(t.streams).toEqual([]);
    expect(opened).toEqual([]);
  });

  it('answers shell.openEnvironment with unavailable when the shell has no window hook', async () => {
    const { b, t } = broker(['environments:manage'], {});
    await expect(b.handle('shell.openEnvironment', { id: 'env_1' })).rejects.toMatchObject({
      code: 'module.unavailable',
    });
    expect(t.calls).toEqual([]);
  });
});

describe('manifest validation', () => {
  const good = {
    id: 'notes',
    name: 'Notes',
    version: '1.0.0',
    entry: 'main.js',
    capabilities: ['notes:read', 'notes:write'],
  };
  it('accepts a good manifest', () => {
    expect(validateManifest(good)).toEqual({ ok: true, manifest: good });
  });
  it.each([
    ['network capability', { ...good, capabilities: ['network'] }],
    ['unknown key', { ...good, permissions: ['<all_urls>'] }],
    ['bad id', { ...good, id: 'Notes!' }],
    ['path in entry', { ...good, entry: '../evil.js' }],
    ['remote entry', { ...good, entry: 'https://x/y.js' }],
    ['repeated capability', { ...good, capabilities: ['search', 'search'] }],
    ['bad version', { ...good, version: '1' }],
    ['missing name', { ...good, name: '' }],
    ['not an object', 'notes'],
  ])('refuses %s', (_label, m) => {
    const r = validateManifest(m);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.length).toBeGreaterThan(0);
  });
});
