import { describe, expect, it } from 'vitest';

import { forceConnectionClose, parseHttpHost } from './http-host.js';

const req = (text: string) => parseHttpHost(Buffer.from(text, 'latin1'));

describe('parseHttpHost', () => {
  it('reads the Host header, without its port, any case', () => {
    expect(req('GET /x HTTP/1.1\r\nhOsT: Example.com:8080\r\nAccept: */*\r\n\r\nbody')).toEqual({
      kind: 'ok',
      host: 'Example.com',
      headLength: 'GET /x HTTP/1.1\r\nhOsT: Example.com:8080\r\nAccept: */*\r\n\r\n'.length,
    });
  });

  it('waits for the end of the head', () => {
    expect(req('GET / HTTP/1.1\r\nHost: a').kind).toBe('need_more');
    expect(req('GE').kind).toBe('need_more');
  });

  it('refuses requests that could name a second host, or none', () => {
    expect(req('GET http://evil.test/ HTTP/1.1\r\nHost: ok.test\r\n\r\n').kind).toBe('invalid');
    expect(req('CONNECT evil.test:443 HTTP/1.1\r\nHost: ok.test\r\n\r\n').kind).toBe('invalid');
    expect(req('GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n').kind).toBe('invalid');
    expect(req('GET / HTTP/1.1\r\nHost : a.test\r\n\r\n').kind).toBe('invalid');
    expect(req('GET / HTTP/1.1\r\nAccept: x\r\n\r\n').kind).toBe('invalid');
    expect(req('GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n').kind).toBe('invalid');
    expect(req('GET / HTTP/2.0\r\nHost: a.test\r\n\r\n').kind).toBe('invalid');
    expect(req('\x16\x03\x01 ').kind).toBe('invalid');
  });
});

describe('forceConnectionClose', () => {
  it('drops keep-alive headers, adds Connection: close, keeps the body bytes', () => {
    const text =
      'POST /a HTTP/1.1\r\nHost: ok.test\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nContent-Length: 2\r\n\r\nhi';
    const r = req(text);
    if (r.kind !== 'ok') throw new Error('parse failed');
    expect(forceConnectionClose(Buffer.from(text, 'latin1'), r.headLength).toString('latin1')).toBe(
      'POST /a HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi',
    );
  });
});
