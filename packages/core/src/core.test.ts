import { describe, expect, it } from 'vitest';
import {
  CoreErrors,
  DisposableStore,
  Emitter,
  ManualClock,
  VirtosError,
  createLogger,
  defineErrors,
  err,
  isCancellation,
  isId,
  memorySink,
  newId,
  ok,
  throwIfAborted,
  toDisposable,
  toVirtosError,
  unwrap,
} from './index.js';

describe('errors', () => {
  const Fam = defineErrors('demo', { missing: 'not_found', bad: 'invalid_argument' });

  it('creates namespaced codes with their class, subject and hint', () => {
    const e = Fam.create('missing', 'No thing t-1.', { subject: 't-1', hint: 'Create it first.' });
    expect(e).toBeInstanceOf(VirtosError);
    expect(e.code).toBe('demo.missing');
    expect(e.errorClass).toBe('not_found');
    expect(e.describe()).toBe('No thing t-1.\nHint: Create it first.');
    expect(e.toJSON()).toEqual({
      code: 'demo.missing',
      class: 'not_found',
      message: 'No thing t-1.',
      subject: 't-1',
      hint: 'Create it first.',
    });
  });

  it('guards by family and by code', () => {
    const e = Fam.create('bad', 'x');
    expect(Fam.is(e)).toBe(true);
    expect(Fam.is(e, 'bad')).toBe(true);
    expect(Fam.is(e, 'missing')).toBe(false);
    expect(CoreErrors.is(e)).toBe(false);
    expect(Fam.is(new Error('x'))).toBe(false);
  });

  it('wraps unknown errors as internal and recognises cancellation', () => {
    const wrapped = toVirtosError(new TypeError('boom'));
    expect(wrapped.code).toBe('core.internal');
    expect(wrapped.cause).toBeInstanceOf(TypeError);
    const ac = new AbortController();
    ac.abort();
    expect(() => throwIfAborted(ac.signal, 'build')).toThrow(/build was cancelled/);
    expect(isCancellation(CoreErrors.create('cancelled', 'x'))).toBe(true);
    expect(isCancellation(new DOMException('x', 'AbortError'))).toBe(true);
    expect(isCancellation(new Error('x'))).toBe(false);
  });
});

describe('result', () => {
  it('carries values and errors', () => {
    expect(unwrap(ok(3))).toBe(3);
    expect(() => unwrap(err(new Error('no')))).toThrow('no');
  });
});

describe('ids', () => {
  it('makes prefixed, unique, well-formed ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId('env')));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(isId(id, 'env')).toBe(true);
    expect(isId('env_0123', 'env')).toBe(false);
    expect(isId(newId('note'), 'env')).toBe(false);
    expect(() => newId('Bad Prefix')).toThrow(/Invalid id prefix/);
  });
});

describe('clock', () => {
  it('fires timers in order only when advanced', () => {
    const c = new ManualClock(1000);
    const fired: string[] = [];
    c.setTimeout(() => fired.push('b'), 20);
    c.setTimeout(() => fired.push('a'), 10);
    const cancelled = c.setTimeout(() => fired.push('x'), 15);
    cancelled.dispose();
    c.advance(5);
    expect(fired).toEqual([]);
    c.advance(20);
    expect(fired).toEqual(['a', 'b']);
    expect(c.now()).toBe(1025);
    expect(c.monotonic()).toBe(25);
  });
});

describe('events and disposables', () => {
  it('delivers to listeners until they unsubscribe, despite a failing listener', () => {
    const errors: unknown[] = [];
    const em = new Emitter<number>((e) => errors.push(e));
    const got: number[] = [];
    em.event(() => {
      throw new Error('bad listener');
    });
    const sub = em.event((n) => got.push(n));
    em.fire(1);
    sub.dispose();
    em.fire(2);
    expect(got).toEqual([1]);
    expect(errors).toHaveLength(2);
  });

  it('disposes a store in reverse order, once', () => {
    const order: number[] = [];
    const store = new DisposableStore();
    store.add(toDisposable(() => order.push(1)));
    store.add(toDisposable(() => order.push(2)));
    store.dispose();
    store.dispose();
    expect(order).toEqual([2, 1]);
    store.add(toDisposable(() => order.push(3)));
    expect(order).toEqual([2, 1, 3]);
  });
});

describe('logger', () => {
  it('filters by level and merges child fields', () => {
    const sink = memorySink();
    const log = createLogger({ level: 'info', sink, clock: new ManualClock(42) }).child({
      env: 'e1',
    });
    log.debug('hidden');
    log.warn('shown', { n: 1 });
    expect(sink.entries).toEqual([
      { level: 'warn', time: 42, msg: 'shown', fields: { env: 'e1', n: 1 } },
    ]);
  });
});
