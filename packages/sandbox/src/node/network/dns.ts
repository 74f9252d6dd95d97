/**
 * A tiny DNS responder for allowlist environments. It never forwards a query: allowed names get an
 * A record pointing at the egress proxy, every other name gets NXDOMAIN. So the environment learns
 * nothing about the outside world except that its allowed names exist.
 */
import { createSocket, type Socket } from 'node:dgram';

import { parseIpv4 } from './addresses.js';

/** DNS record types the responder distinguishes. */
export const DNS_TYPE = { A: 1, AAAA: 28 } as const;

/** Response codes used here (RFC 1035 section 4.1.1). */
export const DNS_RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** The question of a query, as parsed. */
export interface DnsQuestion {
  readonly id: number;
  readonly name: string;
  readonly type: number;
  readonly class: number;
  /** Flags of the query (we echo the RD bit). */
  readonly flags: number;
  /** Raw bytes of the question section, echoed in the answer. */
  readonly questionBytes: Uint8Array;
}

/** Parses a standard query with exactly one question; undefined when malformed or not a query. */
export function parseDnsQuery(msg: Uint8Array): DnsQuestion | undefined {
  if (msg.length < 12 || msg.length > 512) return undefined;
  const u16 = (at: number): number => ((msg[at] ?? 0) << 8) | (msg[at + 1] ?? 0);
  const id = u16(0);
  const flags = u16(2);
  const isResponse = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0xf;
  if (isResponse || opcode !== 0 || u16(4) !== 1 || u16(6) !== 0 || u16(8) !== 0) return undefined;
  // ARCOUNT may be 1 (EDNS OPT); we ignore additional records.
  let p = 12;
  const labels: string[] = [];
  for (;;) {
    const len = msg[p];
    if (len === undefined) return undefined;
    p++;
    if (len === 0) break;
    if (len > 63) return undefined; // compression pointers never appear in a query's only question
    if (p + len > msg.length) return undefined;
    labels.push(String.fromCharCode(...msg.subarray(p, p + len)));
    p += len;
    if (labels.join('.').length > 253) return undefined;
  }
  if (p + 4 > msg.length) return undefined;
  return {
    id,
    flags,
    name: labels.join('.').toLowerCase(),
    type: u16(p),
    class: u16(p + 2),
    questionBytes: msg.slice(12, p + 4),
  };
}

/**
 * Builds the response to `q`: `rcode`, and an A record with `address` when given. Time to live in
 * seconds.
 */
export function buildDnsResponse(
  q: DnsQuestion,
  rcode: number,
  address?: string,
  ttlSeconds = 60,
): Uint8Array {
  const answer = address === undefined ? undefined : parseIpv4(address);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR=1, opcode 0, AA=1, RD copied, RA=0, rcode.
  header.writeUInt16BE(0x8000 | 0x0400 | (q.flags & 0x0100) | (rcode & 0xf), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answer === undefined ? 0 : 1, 6);
  const parts: Uint8Array[] = [header, q.questionBytes];
  if (answer !== undefined) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the name in the question
    rr.writeUInt16BE(DNS_TYPE.A, 2);
    rr.writeUInt16BE(1, 4); // class IN
    rr.writeUInt32BE(ttlSeconds, 6);
    rr.writeUInt16BE(4, 10);
    rr.writeUInt32BE(answer, 12);
    parts.push(rr);
  }
  return Buffer.concat(parts);
}

/**
 * Decides the answer to one query: allowed names get `proxyAddress` for A, an empty NOERROR for
 * other types (so clients fall back to IPv4); other names NXDOMAIN; malformed queries FORMERR.
 */
export function answerDnsQuery(
  msg: Uint8Array,
  isAllowed: (name: string) => boolean,
  proxyAddress: string,
): Uint8Array | undefined {
  const q = parseDnsQuery(msg);
  if (!q) {
    if (msg.length < 12) return undefined;
    const id = ((msg[0] ?? 0) << 8) | (msg[1] ?? 0);
    return buildDnsResponse(
      { id, flags: 0, name: '', type: 0, class: 0, questionBytes: new Uint8Array() },
      DNS_RCODE.FORMERR,
    ).subarray(0, 12);
  }
  if (q.class !== 1) return buildDnsResponse(q, DNS_RCODE.REFUSED);
  if (!isAllowed(q.name)) return buildDnsResponse(q, DNS_RCODE.NXDOMAIN);
  if (q.type === DNS_TYPE.A) return buildDnsResponse(q, DNS_RCODE.NOERROR, proxyAddress);
  return buildDnsResponse(q, DNS_RCODE.NOERROR);
}

/** A running DNS responder. */
export interface DnsResponder {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the responder on `address:port` (port 0 = any free port) over UDP. */
export function startDnsResponder(opts: {
  address: string;
  port?: number;
  isAllowed: (name: string) => boolean;
  proxyAddress: string;
}): Promise<DnsResponder> {
  return new Promise((resolve, reject) => {
    const socket: Socket = createSocket({ type: 'udp4' });
    socket.on('message', (msg, rinfo) => {
      const reply = answerDnsQuery(msg, opts.isAllowed, opts.proxyAddress);
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
    socket.once('error', reject);
    socket.bind(opts.port ?? 0, opts.address, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve({
        address: opts.address,
        port: socket.address().port,
        close: () => new Promise<void>((done) => socket.close(() => done())),
      });
    });
  });
}
