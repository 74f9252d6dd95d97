import { describe, expect, it } from 'vitest';
import { checkRequestHeaders, isLoopbackHost } from './request-guard.js';

const id = { host: '127.0.0.1', port: 7460 };

describe('checkRequestHeaders', () => {
  it('accepts the loopback names with the port, with or without a same origin', () => {
    for (const host of ['127.0.0.1:7460', 'localhost:7460', 'LOCALHOST:7460', '[::1]:7460']) {
      expect(checkRequestHeaders({ host }, id)).toBeUndefined();
      expect(checkRequestHeaders({ host, origin: `http://${host}` }, id)).toBeUndefined();
    }
    expect(
      checkRequestHeaders({ host: '127.0.0.1:7460', secFetchSite: 'same-origin' }, id),
    ).toBeUndefined();
    expect(
      checkRequestHeaders({ host: '127.0.0.1:7460', secFetchSite: 'none' }, id),
    ).toBeUndefined();
  });

  it('refuses missing, foreign, port-less and other-port hosts', () => {
    for (const host of [
      undefined,
      '',
      'evil.example',
      'evil.example:7460',
      '127.0.0.1',
      '127.0.0.1:80',
      '127.0.0.2:7460',
    ]) {
      expect(checkRequestHeaders({ host }, id)?.code).toBe('server.bad_host');
    }
  });

  it('refuses foreign origins and cross-site or same-site fetches', () => {
    const host = '127.0.0.1:7460';
    for (const origin of [
      'null',
      'http://evil.example',
      'https://127.0.0.1:7460',
      'http://127.0.0.1:7461',
    ]) {
      expect(checkRequestHeaders({ host, origin }, id)?.code).toBe('server.bad_origin');
    }
    for (const secFetchSite of ['cross-site', 'same-site']) {
      expect(checkRequestHeaders({ host, secFetchSite }, id)?.code).toBe('server.bad_origin');
    }
  });

  it('accepts an explicit --host name', () => {
    const lan = { host: '192.168.1.5', port: 7460 };
    expect(checkRequestHeaders({ host: '192.168.1.5:7460' }, lan)).toBeUndefined();
    expect(checkRequestHeaders({ host: 'evil.example:7460' }, lan)?.code).toBe('server.bad_host');
  });

  it('knows loopback addresses', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('192.168.1.5')).toBe(false);
  });
});
