import { createServer, connect, type AddressInfo, type Server } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDomainMatcher } from './domain-match.js';
import {
  isForbiddenUpstream,
  startEgressProxy,
  type EgressProxy,
  type ProxyDecision,
} from './egress-proxy.js';
import { captureClientHello } from './net-test-kit.js';

/** Sends `data` to 127.0.0.1:port and collects what comes back until the peer closes (max 2 s). */
function exchange(port: number, data: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(got));
    s.on('connect', () => s.write(data));
    setTimeout(() => s.destroy(), 2000);
  });
}

describe('egress proxy (loopback sockets)', () => {
  let upstream: Server;
  let proxy: EgressProxy;
  const decisions: ProxyDecision[] = [];
  const received: string[] = [];

  beforeAll(async () => {
    upstream = createServer((s) => {
      s.once('data', (d) => {
        received.push(d.toString('latin1'));
        s.end('UPSTREAM\n');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    proxy = await startEgressProxy({
      address: '127.0.0.1',
      upstreamPorts: [upstreamPort],
      matcher: createDomainMatcher(['ok.test', '*.wild.test', 'rebind.test']),
      resolver: {
        resolve4: async (h) => (h === 'rebind.test' ? ['169.254.169.254'] : ['127.0.0.1']),
      },
      // Loopback is the stand-in upstream here; keep the default policy for everything else.
      isForbidden: (ip) => ip !== '127.0.0.1' && isForbiddenUpstream(ip),
      onDecision: (d) => decisions.push(d),
      timeoutMs: 1000,
    });
  });
  afterAll(async () => {
    await proxy.close();
    upstream.close();
  });

  const port = () => [...proxy.ports.values()][0] ?? 0;

  it('splices an allowed TLS connection, sending the ClientHello on unchanged', async () => {
    const hello = Buffer.from(await captureClientHello('a.wild.test'), 'hex');
    expect(await exchange(port(), hello)).toBe('UPSTREAM\n');
    expect(received.at(-1)).toBe(hello.toString('latin1'));
  });

  it('closes a TLS connection for a name that is not allowed, without contacting upstream', async () => {
    const before = received.length;
    const hello = Buffer.from(await captureClientHello('evil.test'), 'hex');
    expect(await exchange(port(), hello)).toBe('');
    expect(received.length).toBe(before);
    expect(decisions.at(-1)).toMatchObject({ allowed: false, via: 'sni', host: 'evil.test' });
  });

  it('forwards allowed HTTP and answers 403 to other hosts', async () => {
    expect(await exchange(port(), Buffer.from('GET / HTTP/1.1\r\nHost: ok.test\r\n\r\n'))).toBe(
      'UPSTREAM\n',
    );
    // One request per connection: later requests cannot skip the Host check.
    expect(received.at(-1)).toBe('GET / HTTP/1.1\r\nHost: ok.test\r\nConnection: close\r\n\r\n');
    expect(
      await exchange(port(), Buffer.from('GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n')),
    ).toContain('403 Forbidden');
  });

  it('refuses an allowed name that resolves to a forbidden address (DNS rebinding)', async () => {
    expect(
      await exchange(port(), Buffer.from('GET / HTTP/1.1\r\nHost: rebind.test\r\n\r\n')),
    ).toContain('403');
    expect(decisions.at(-1)).toMatchObject({
      allowed: false,
      reason: 'resolves only to forbidden addresses',
    });
  });

  it('refuses garbage and TLS without SNI', async () => {
    expect(await exchange(port(), Buffer.from('\x00\x01\x02 hello\r\n\r\n'))).toContain('403');
    expect(isForbiddenUpstream('127.0.0.1')).toBe(true);
    expect(isForbiddenUpstream('10.213.4.5')).toBe(true);
    expect(isForbiddenUpstream('169.254.169.254')).toBe(true);
    expect(isForbiddenUpstream('198.18.0.2')).toBe(false);
    expect(isForbiddenUpstream('192.168.1.1')).toBe(true); // a LAN router behind a rebinding name
    expect(isForbiddenUpstream('10.1.2.3')).toBe(true);
    expect(isForbiddenUpstream('::1')).toBe(true);
  });
});
