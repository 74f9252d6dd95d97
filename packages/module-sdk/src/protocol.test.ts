import { describe, expect, it } from 'vitest';
import { ENV_EVENT, ENV_WATCH_END, moduleApi } from './client.js';
import {
  parseConnect,
  parseEvent,
  parseRequest,
  parseResponse,
  RpcClient,
  RpcError,
  serveRpc,
} from './protocol.js';
import { isMethodName, METHOD_CAPABILITY } from './capabilities.js';

describe('framing', () => {
  it('accepts well-formed frames and drops everything else', () => {
    expect(parseRequest({ v: 1, id: 3, method: 'notes.list', params: {} })).toEqual({
      v: 1,
      id: 3,
      method: 'notes.list',
      params: {},
    });
    for (const bad of [
      null,
      'x',
      [],
      { v: 2, id: 1, method: 'a' },
      { v: 1, id: -1, method: 'a' },
      { v: 1, id: 1.5, method: 'a' },
      { v: 1, id: 1, method: '' },
      { v: 1, id: 1, method: 'x'.repeat(65) },
      { v: 1, id: 1, method: 7 },
    ]) {
      expect(parseRequest(bad)).toBeUndefined();
    }
    expect(parseResponse({ v: 1, id: 1, ok: true, result: 5 })).toMatchObject({ result: 5 });
    expect(
      parseResponse({ v: 1, id: 1, ok: false, error: { code: 'a.b', message: 'm', hint: 'h' } }),
    ).toMatchObject({ error: { code: 'a.b', message: 'm', hint: 'h' } });
    expect(parseResponse({ v: 1, id: 1, ok: false, error: { code: 1 } })).toBeUndefined();
    expect(parseResponse({ v: 1, id: 1, ok: 'yes' })).toBeUndefined();
    expect(parseConnect({ type: 'virtos:connect', v: 1, moduleId: 'notes' })).toBeDefined();
    expect(parseConnect({ type: 'virtos:connect', v: 1 })).toBeUndefined();
    expect(parseEvent({ v: 1, event: 'key', data: 'a' })).toEqual({
      v: 1,
      event: 'key',
      data: 'a',
    });
    expect(parseEvent({ v: 1, id: 1, event: 'key' })).toBeUndefined();
  });

  it('every method names a known capability or none', () => {
    expect(isMethodName('notes.list')).toBe(true);
    expect(isMethodName('toString')).toBe(false);
    expect(isMethodName('__proto__')).toBe(false);
    expect(METHOD_CAPABILITY['storage.get']).toBeNull();
  });
});

describe('RPC over a real MessageChannel', () => {
  it('round-trips results, coded errors, events and moves buffers', async () => {
    const ch = new MessageChannel();
    const stop = serveRpc(ch.port1, async (method, params) => {
      if (method === 'echo') return params;
      if (method === 'bytes') return new Uint8Array([1, 2, 3]).buffer;
      throw new RpcError('module.capability_denied', `no ${method}`, 'grant it');
    });
    const rpc = new RpcClient(ch.port2);
    const api = moduleApi(rpc, 'probe');
    expect(await rpc.call('echo', { a: 1 })).toEqual({ a: 1 });
    const buf = await rpc.call<ArrayBuffer>('bytes');
    expect([...new Uint8Array(buf)]).toEqual([1, 2, 3]);
    await expect(api.notes.list()).rejects.toMatchObject({
      code: 'module.capability_denied',
      hint: 'grant it',
    });
    // Calls in flight answer in any order, each to its own id.
    const many = await Promise.all([1, 2, 3, 4].map((n) => rpc.call('echo', n)));
    expect(many).toEqual([1, 2, 3, 4]);
    const keys: string[] = [];
    api.onKey((k) => keys.push(k));
    ch.port1.postMessage({ v: 1, event: 'key', data: 'q' });
    await new Promise((r) => setTimeout(r, 20));
    expect(keys).toEqual(['q']);
    stop();
    rpc.close();
    ch.port2.close();
  });

  it('a second watch replaces the first: no misrouted events, the old stop leaves it alone', async () => {
    const ch = new MessageChannel();
    const calls: string[] = [];
    const stop = serveRpc(ch.port1, async (method, params) => {
      calls.push(`${method} ${JSON.stringify(params)}`);
      return undefined;
    });
    const rpc = new RpcClient(ch.port2);
    const api = moduleApi(rpc, 'environments');
    const emit = (event: string, data: unknown) => ch.port1.postMessage({ v: 1, event, data });
    // Messages on one port arrive in order: a round trip after the events means they arrived.
    const flush = () => rpc.call('echo');
    const first: unknown[] = [];
    const second: unknown[] = [];
    const ends: string[] = [];
    const stopFirst = await api.environments.watch((e) => first.push(e), {
      onEnd: (r) => ends.push(`first ${r}`),
    });
    emit(ENV_EVENT, { envId: 'e1', seq: 1 });
    await flush();
    const stopSecond = await api.environments.watch((e) => second.push(e), {
      id: 'e2',
      since: 3,
      onEnd: (r) => ends.push(`second ${r}`),
    });
    emit(ENV_EVENT, { envId: 'e2', seq: 4 });
    await flush();
    expect(first).toEqual([{ envId: 'e1', seq: 1 }]);
    expect(second).toEqual([{ envId: 'e2', seq: 4 }]);

    await stopFirst(); // the old stop must not end the new watch
    emit(ENV_EVENT, { envId: 'e2', seq: 5 });
    await flush();
    expect(second).toHaveLength(2);
    expect(calls.filter((x) => x.startsWith('environments.unwatch'))).toEqual([]);

    emit(ENV_WATCH_END, 'locked');
    await flush();
    expect(ends).toEqual(['second locked']);
    await stopSecond(); // already ended by the shell: nothing to unwatch

    const stopThird = await api.environments.watch(() => undefined);
    await stopThird();
    expect(calls.filter((x) => !x.startsWith('echo'))).toEqual([
      'environments.watch {}',
      'environments.watch {"id":"e2","since":3}',
      'environments.watch {}',
      'environments.unwatch {}',
    ]);
    stop();
    rpc.close();
    ch.port2.close();
  });

  it('does not leak the text of unexpected host errors to the module', async () => {
    const ch = new MessageChannel();
    const stop = serveRpc(ch.port1, async () => {
      throw new Error('secret path /home/u/.virtos');
    });
    const rpc = new RpcClient(ch.port2);
    const e = await rpc.call('x').catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'module.internal' });
    expect(String((e as Error).message)).not.toContain('secret');
    stop();
    rpc.close();
    ch.port2.close();
  });
});
