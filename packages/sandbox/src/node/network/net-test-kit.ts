/**
 * Helpers for the network integration tests: probes run INSIDE a netns (a small Node script started
 * with `ip netns exec`), stand-in servers in their own netns, and a captured real TLS ClientHello.
 * Test-only; not exported from the package.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** One probe made from inside a netns. */
export type Probe =
  | {
      readonly op: 'tcp';
      readonly host: string;
      readonly port: number;
      /** Bytes to send after connecting (hex). */
      readonly sendHex?: string;
      /** Wait for data (or close) after connecting instead of reporting `connected` at once. */
      readonly read?: boolean;
      readonly timeoutMs?: number;
    }
  | {
      /** Name resolution through the system resolver (reads /etc/resolv.conf). */
      readonly op: 'lookup';
      readonly host: string;
      readonly timeoutMs?: number;
    }
  | {
      readonly op: 'udp';
      readonly host: string;
      readonly port: number;
      readonly sendHex: string;
      readonly timeoutMs?: number;
    };

/** What a probe saw. `timeout` means no answer at all (dropped); `refused` a TCP reset. */
export interface ProbeResult {
  readonly result:
    'connected' | 'closed' | 'refused' | 'timeout' | 'reply' | 'unreachable' | string;
  /** Received bytes as latin1 text (tcp) or hex (udp). */
  readonly data: string;
  readonly ms: number;
}

const PROBE_SCRIPT = String.raw`
const net = require('node:net');
const dgram = require('node:dgram');
const probes = JSON.parse(process.argv[1]);
const run = (p) => new Promise((resolve) => {
  const t0 = Date.now();
  let done = false;
  if (p.op === 'lookup') {
    const timer = setTimeout(() => { done = true; resolve({ result: 'timeout', data: '', ms: Date.now() - t0 }); }, p.timeoutMs ?? 6000);
    require('node:dns').lookup(p.host, { family: 4 }, (err, address) => {
      if (done) return;
      clearTimeout(timer);
      resolve(err ? { result: 'error:' + err.code, data: '', ms: Date.now() - t0 } : { result: 'resolved', data: address, ms: Date.now() - t0 });
    });
    return;
  }
  let data = Buffer.alloc(0);
  const timeoutMs = p.timeoutMs ?? 1500;
  if (p.op === 'udp') {
    const s = dgram.createSocket('udp4');
    const finish = (result) => { if (done) return; done = true; try { s.close(); } catch {} resolve({ result, data: data.toString('hex'), ms: Date.now() - t0 }); };
    s.on('message', (m) => { data = m; finish('reply'); });
    s.on('error', (e) => finish('error:' + e.code));
    setTimeout(() => finish('timeout'), timeoutMs);
    s.send(Buffer.from(p.sendHex, 'hex'), p.port, p.host);
    return;
  }
  let connected = false;
  const s = net.connect({ host: p.host, port: p.port });
  const finish = (result) => { if (done) return; done = true; s.destroy(); resolve({ result, data: data.toString('latin1'), ms: Date.now() - t0 }); };
  setTimeout(() => finish(connected ? 'connected' : 'timeout'), timeoutMs);
  s.on('connect', () => {
    connected = true;
    if (p.sendHex) s.write(Buffer.from(p.sendHex, 'hex'));
    if (!p.read) finish('connected');
  });
  s.on('data', (d) => { data = Buffer.concat([data, d]); });
  s.on('error', (e) => finish(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ENETUNREACH' || e.code === 'EHOSTUNREACH' ? 'unreachable' : 'error:' + e.code));
  s.on('close', () => finish(connected ? 'closed' : 'error:close'));
});
Promise.all(probes.map(run)).then((r) => process.stdout.write(JSON.stringify(r)));
`;

/** Runs a command with execFile and returns stdout (rejects on failure). */
export function sh(file: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The command line that runs `probes` with Node and prints their results as JSON. */
export function probeCommand(probes: readonly Probe[]): string[] {
  return [process.execPath, '-e', PROBE_SCRIPT, JSON.stringify(probes)];
}

/** Runs the probes concurrently from inside `netns`; one Node process per call. */
export async function probeFrom(netns: string, probes: readonly Probe[]): Promise<ProbeResult[]> {
  const out = await sh('ip', [
    'netns',
    'exec',
    netns,
    process.execPath,
    '-e',
    PROBE_SCRIPT,
    JSON.stringify(probes),
  ]);
  return JSON.parse(out) as ProbeResult[];
}

/** Sends one ICMP echo from inside `netns` (the host when undefined); true when a reply came back within 1 s. */
export async function pingFrom(netns: string | undefined, host: string): Promise<boolean> {
  const ping = ['ping', '-c', '1', '-W', '1', host];
  try {
    if (netns) await sh('ip', ['netns', 'exec', netns, 'busybox', ...ping]);
    else await sh('busybox', ping);
    return true;
  } catch {
    return false;
  }
}

const SERVER_SCRIPT = String.raw`
const net = require('node:net');
const dgram = require('node:dgram');
const { tcp, udp, tag } = JSON.parse(process.argv[1]);
let pending = tcp.length + udp.length;
const ready = () => { if (--pending === 0) process.stdout.write('ready\n'); };
for (const port of tcp) {
  net.createServer((s) => {
    process.stdout.write('conn ' + port + ' ' + s.remoteAddress + '\n');
    s.on('error', () => {});
    s.end(tag + ' port=' + port + ' from=' + s.remoteAddress + '\n');
  }).listen(port, '0.0.0.0', ready);
}
for (const port of udp) {
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => { process.stdout.write('udp ' + port + ' ' + r.address + '\n'); u.send(Buffer.from(tag + '-udp'), r.port, r.address); });
  u.bind(port, '0.0.0.0', ready);
}
`;

/** A stand-in server process; `log` collects one line per connection ("conn <port> <from>"). */
export interface StandIn {
  readonly log: string[];
  stop(): Promise<void>;
}

/** Starts TCP greeters and UDP echoers on 0.0.0.0 inside `netns` (or the host when undefined). */
export async function startStandIn(
  netns: string | undefined,
  tag: string,
  tcp: readonly number[],
  udp: readonly number[] = [],
): Promise<StandIn> {
  const args = ['-e', SERVER_SCRIPT, JSON.stringify({ tcp, udp, tag })];
  const child: ChildProcess = netns
    ? spawn('ip', ['netns', 'exec', netns, process.execPath, ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const log: string[] = [];
  let buffer = '';
  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((r) => (resolveReady = r));
  child.stdout?.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line === 'ready') resolveReady();
      else log.push(line);
    }
  });
  const exited = once(child, 'exit');
  await Promise.race([
    ready,
    exited.then(() => Promise.reject(new Error(`stand-in ${tag} exited`))),
  ]);
  return {
    log,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** A stand-in "outside world": its own netns linked to the host, routed through the host. */
export interface OutsideWorld {
  readonly netns: string;
  readonly hostAddress: string;
  readonly address: string;
  remove(): Promise<void>;
}

/**
 * Creates a stand-in machine on a LAN of the host: a netns behind a veth that is NOT a VirtOS
 * interface (`lan-<7 hex>`, 203.0.113.<n>.0/30), so the host sees it as a directly attached
 * network. Internet-mode environments must not reach it.
 */
export async function createLanNeighbour(): Promise<OutsideWorld> {
  const tag = randomBytes(4).toString('hex').slice(0, 7);
  const name = `lan-${tag}`;
  const n = (parseInt(tag.slice(0, 2), 16) % 63) * 4;
  const hostAddress = `203.0.113.${n + 1}`;
  const address = `203.0.113.${n + 2}`;
  return linkedNetns(name, hostAddress, address);
}

/**
 * Creates the outside world as a netns `virtos-o<7 hex>` with a veth of the same name on the host,
 * on 198.18.<n>.0/30 (RFC 2544 benchmarking range: never a real network here).
 */
export async function createOutsideWorld(): Promise<OutsideWorld> {
  const tag = randomBytes(4).toString('hex').slice(0, 7);
  const name = `virtos-o${tag}`;
  const n = parseInt(tag.slice(0, 2), 16);
  return linkedNetns(name, `198.18.${n}.1`, `198.18.${n}.2`);
}

async function linkedNetns(
  name: string,
  hostAddress: string,
  address: string,
): Promise<OutsideWorld> {
  await sh('ip', ['netns', 'add', name]);
  const remove = async () => {
    await sh('ip', ['link', 'del', name]).catch(() => {});
    await sh('ip', ['netns', 'del', name]).catch(() => {});
  };
  try {
    await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
    await sh('ip', ['addr', 'add', `${hostAddress}/30`, 'dev', name]);
    await sh('ip', ['link', 'set', name, 'up']);
    await sh('ip', ['-n', name, 'addr', 'add', `${address}/30`, 'dev', 'eth0']);
    await sh('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', name, 'route', 'add', 'default', 'via', hostAddress]);
  } catch (e) {
    await remove();
    throw e;
  }
  return { netns: name, hostAddress, address, remove };
}

/** Captures the real ClientHello Node's TLS client sends for `servername` (hex). */
export async function captureClientHello(servername: string): Promise<string> {
  const server = createServer();
  const first = new Promise<Buffer>((resolve) => {
    server.on('connection', (s) => {
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const client = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  client.on('error', () => {});
  const hello = await first;
  client.destroy();
  server.close();
  return hello.toString('hex');
}

/** A DNS query for `name` (type A) as hex. */
export function dnsQueryHex(name: string, id = 0x1234, type = 1): string {
  const labels = name
    .split('.')
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const tail = Buffer.from([0, type >> 8, type & 255, 0, 1]);
  return Buffer.concat([header, ...labels, tail]).toString('hex');
}

/** Reads rcode and the first A answer from a DNS response given as hex. */
export function readDnsAnswer(hex: string): { rcode: number; address?: string } {
  const msg = Buffer.from(hex, 'hex');
  const rcode = (msg[3] ?? 0) & 0xf;
  const answers = msg.readUInt16BE(6);
  if (answers === 0) return { rcode };
  const last4 = msg.subarray(msg.length - 4);
  return { rcode, address: [...last4].join('.') };
}

/** The HTTP/1.1 request head for `host` as hex. */
export function httpGetHex(host: string): string {
  return Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`).toString(
    'hex',
  );
}

const ORIGINAL_DST_SCRIPT = `
import socket, struct
s = socket.socket()
s.bind(('0.0.0.0', 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    c, a = s.accept()
    raw = c.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST, as a transparent proxy reads it
    port, ip = struct.unpack('!2xH4s8x', raw)
    c.sendall(('ORIG %s:%d from=%s to=%s\\n' % (socket.inet_ntoa(ip), port, a[0], c.getsockname()[0])).encode())
    c.close()
`;

/**
 * A stand-in transparent proxy on the host (Python, because Node cannot read SO_ORIGINAL_DST): it
 * answers each connection with the original destination the kernel recorded before the redirect,
 * exactly what Tor's TransPort reads. Undefined when python3 is missing.
 */
export async function startOriginalDstStandIn(): Promise<
  { port: number; stop(): Promise<void> } | undefined
> {
  const child = spawn('python3', ['-c', ORIGINAL_DST_SCRIPT], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const port = await new Promise<number | undefined>((resolve) => {
    child.once('error', () => resolve(undefined));
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  if (!port) return undefined;
  return {
    port,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
