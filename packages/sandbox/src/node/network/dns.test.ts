import { createSocket } from 'node:dgram';

import { describe, expect, it } from 'vitest';

import { DNS_RCODE, DNS_TYPE, answerDnsQuery, parseDnsQuery, startDnsResponder } from './dns.js';
import { dnsQueryHex, readDnsAnswer } from './net-test-kit.js';

const allow = (n: string) => n === 'ok.test';
const ask = (name: string, type: number = DNS_TYPE.A) =>
  answerDnsQuery(Buffer.from(dnsQueryHex(name, 7, type), 'hex'), allow, '10.213.0.5');

describe('DNS answering', () => {
  it('answers allowed names with the proxy address, others with NXDOMAIN', () => {
    const ok = Buffer.from(ask('OK.test') ?? []);
    expect(readDnsAnswer(ok.toString('hex'))).toEqual({ rcode: 0, address: '10.213.0.5' });
    expect(ok.readUInt16BE(0)).toBe(7);
    expect(ok[2]! & 0x80).toBe(0x80); // a response
    expect(readDnsAnswer(Buffer.from(ask('no.test') ?? []).toString('hex')).rcode).toBe(
      DNS_RCODE.NXDOMAIN,
    );
  });

  it('gives an empty NOERROR for other record types of allowed names (IPv4 only)', () => {
    const r = Buffer.from(ask('ok.test', DNS_TYPE.AAAA) ?? []);
    expect(readDnsAnswer(r.toString('hex'))).toEqual({ rcode: 0 });
  });

  it('refuses malformed queries and responses', () => {
    expect(parseDnsQuery(Buffer.alloc(5))).toBeUndefined();
    const response = Buffer.from(dnsQueryHex('ok.test'), 'hex');
    response[2] = 0x81;
    expect(parseDnsQuery(response)).toBeUndefined();
    const formerr = answerDnsQuery(response, allow, '10.213.0.5');
    expect(formerr && formerr[3]! & 0xf).toBe(DNS_RCODE.FORMERR);
    const pointer = Buffer.from(dnsQueryHex('ok.test'), 'hex');
    pointer[12] = 0xc0;
    expect(parseDnsQuery(pointer)).toBeUndefined();
  });

  it('serves over UDP', async () => {
    const responder = await startDnsResponder({
      address: '127.0.0.1',
      isAllowed: allow,
      proxyAddress: '10.213.0.9',
    });
    const client = createSocket('udp4');
    try {
      const reply = await new Promise<Buffer>((resolve) => {
        client.once('message', resolve);
        client.send(Buffer.from(dnsQueryHex('ok.test'), 'hex'), responder.port, '127.0.0.1');
      });
      expect(readDnsAnswer(reply.toString('hex'))).toEqual({ rcode: 0, address: '10.213.0.9' });
    } finally {
      client.close();
      await responder.close();
    }
  });
});
