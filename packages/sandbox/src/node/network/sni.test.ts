import { describe, expect, it } from 'vitest';

import { captureClientHello } from './net-test-kit.js';
import { looksLikeTls, parseClientHelloSni } from './sni.js';

/** Builds a minimal ClientHello record with the given extensions block. */
function hello(extensions: Buffer, opts: { sessionId?: number } = {}): Buffer {
  const sessionId = Buffer.alloc(opts.sessionId ?? 0);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(32),
    Buffer.from([sessionId.length]),
    sessionId,
    Buffer.from([0x00, 0x02, 0x13, 0x01]), // one cipher suite
    Buffer.from([0x01, 0x00]), // compression: null
    Buffer.from([extensions.length >> 8, extensions.length & 255]),
    extensions,
  ]);
  const hs = Buffer.concat([Buffer.from([0x01, 0, body.length >> 8, body.length & 255]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01, hs.length >> 8, hs.length & 255]), hs]);
}

function sniExt(...names: string[]): Buffer {
  const entries = Buffer.concat(
    names.map((n) =>
      Buffer.concat([Buffer.from([0, n.length >> 8, n.length & 255]), Buffer.from(n)]),
    ),
  );
  const list = Buffer.concat([Buffer.from([entries.length >> 8, entries.length & 255]), entries]);
  return Buffer.concat([Buffer.from([0, 0, list.length >> 8, list.length & 255]), list]);
}

describe('parseClientHelloSni', () => {
  it('reads the server name from a real ClientHello sent by Node', async () => {
    const bytes = Buffer.from(await captureClientHello('api.example.com'), 'hex');
    expect(looksLikeTls(bytes[0])).toBe(true);
    expect(parseClientHelloSni(bytes)).toEqual({ kind: 'ok', serverName: 'api.example.com' });
  });

  it('asks for more bytes until the record is complete, at every cut', () => {
    const bytes = hello(sniExt('a.test'), { sessionId: 32 });
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(parseClientHelloSni(bytes.subarray(0, cut)).kind).toBe('need_more');
    }
    expect(parseClientHelloSni(bytes)).toEqual({ kind: 'ok', serverName: 'a.test' });
  });

  it('reports a ClientHello without SNI', () => {
    expect(parseClientHelloSni(hello(Buffer.alloc(0)))).toEqual({ kind: 'no_sni' });
    const otherExt = Buffer.from([0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    expect(parseClientHelloSni(hello(otherExt))).toEqual({ kind: 'no_sni' });
  });

  it('refuses ambiguous or malformed input instead of guessing', () => {
    expect(parseClientHelloSni(hello(sniExt('a.test', 'b.test'))).kind).toBe('invalid');
    expect(
      parseClientHelloSni(hello(Buffer.concat([sniExt('a.test'), sniExt('b.test')]))).kind,
    ).toBe('invalid');
    expect(parseClientHelloSni(hello(sniExt('bad name'))).kind).toBe('invalid');
    const wrongType = hello(sniExt('a.test'));
    wrongType[5] = 0x02; // ServerHello
    expect(parseClientHelloSni(wrongType).kind).toBe('invalid');
    const badLength = hello(sniExt('a.test'));
    badLength[badLength.length - 10] = 0x7f; // server name list length off
    expect(parseClientHelloSni(badLength).kind).toBe('invalid');
    expect(parseClientHelloSni(Buffer.from('GET / HTTP/1.1\r\n')).kind).toBe('invalid');
  });

  it('never throws on random bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.alloc(1 + (i % 300));
      for (let j = 0; j < bytes.length; j++) bytes[j] = (i * 31 + j * 17) & 255;
      bytes[0] = 0x16;
      expect(() => parseClientHelloSni(bytes)).not.toThrow();
    }
  });
});
