/** Mounts a StreamGateway on a real HTTP server on 127.0.0.1, as the daemon will. */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamGateway, StreamTokenService } from '../../src/index.js';
import type { StreamGatewayOptions, StreamTokenServiceOptions } from '../../src/index.js';

/** A gateway behind an HTTP server. */
export interface GatewayHarness {
  readonly gateway: StreamGateway;
  readonly tokens: StreamTokenService;
  readonly server: Server;
  /** `ws://127.0.0.1:<port>` */
  readonly wsBase: string;
  /** `http://127.0.0.1:<port>`: the origin the gateway allows. */
  readonly origin: string;
  /** A `ws://…/streams/<env>?token=…` URL with a fresh token. */
  streamUrl(envId: string, sessionId?: string): string;
  close(): Promise<void>;
}

/** Options: everything of StreamGatewayOptions except tokens and origins, which the harness makes. */
export type HarnessOptions = Omit<StreamGatewayOptions, 'tokens' | 'allowedOrigins'> & {
  readonly tokenOptions?: StreamTokenServiceOptions;
};

export async function startHarness(options: HarnessOptions): Promise<GatewayHarness> {
  const server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const tokens = new StreamTokenService(options.tokenOptions);
  const { tokenOptions: _t, ...rest } = options;
  const gateway = new StreamGateway({ ...rest, tokens, allowedOrigins: [origin] });
  server.on('upgrade', (req, socket, head) => {
    if (!gateway.handleUpgrade(req, socket, head)) socket.destroy();
  });
  const wsBase = `ws://127.0.0.1:${port}`;
  return {
    gateway,
    tokens,
    server,
    wsBase,
    origin,
    streamUrl: (envId, sessionId = 'sess_test') =>
      `${wsBase}/streams/${envId}?token=${tokens.issue(envId, sessionId).token}`,
    async close() {
      gateway.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Sends a raw WebSocket upgrade request for `path` exactly as written (no URL normalisation, which
 * WebSocket clients apply) and returns the HTTP status of the answer.
 */
export async function rawUpgradeStatus(
  wsBase: string,
  path: string,
  origin: string,
): Promise<number> {
  const { createConnection } = await import('node:net');
  const u = new URL(wsBase);
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: u.hostname, port: Number(u.port) });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m) {
        resolve(Number(m[1]));
        s.destroy();
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(-1));
    s.write(
      `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Protocol: binary\r\nOrigin: ${origin}\r\n\r\n`,
    );
  });
}
