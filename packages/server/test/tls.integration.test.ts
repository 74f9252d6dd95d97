/**
 * The daemon over TLS, with real certificates made by openssl here: HTTPS on 127.0.0.1 with the
 * certificate trusted, plain HTTP refused on the same port, unlock and the API over HTTPS, the
 * `wss://` upgrade path (`/streams/<id>`) and its Origin rule, the CLI client pinning the recorded
 * certificate (and refusing another), the refusal of a non-loopback host without TLS, and the
 * self-signed pair `--tls-self-signed` makes once and reuses.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nullLogger, VirtosError } from '@virtos/core';
import {
  DaemonClient,
  HttpTransport,
  createBuiltins,
  createDaemon,
  ensureSelfSigned,
  homeFiles,
  loadTlsFiles,
  readJsonFile,
  runDaemon,
  selfSignedPaths,
  type Builtins,
  type CertificatePin,
  type Daemon,
  type DaemonFile,
} from '../src/index.js';
import { FAST_KDF, PASS } from './in-process.js';
import { IMAGE_CACHE, testStateDir } from './real-runtime.js';

/** Makes a throwaway EC key and a self-signed certificate for 127.0.0.1 with the openssl CLI. */
function makeCert(dir: string, name: string): { cert: string; key: string; fingerprint: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-noenc',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'pipe' },
  );
  // openssl's own view of the fingerprint, to compare with what the daemon records.
  const out = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'])
    .toString()
    .trim();
  return { cert, key, fingerprint: out.slice(out.indexOf('=') + 1) };
}

/** One HTTPS request trusting `ca` only; resolves with status and body. */
function httpsCall(
  url: string,
  ca: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: opts.method ?? 'GET', ca, headers: opts.headers ?? {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Tries a WebSocket upgrade; resolves with the HTTP status of the refusal (or 101 when opened). */
function upgradeStatus(url: string, ca: string, origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], { ca, origin });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('error', reject);
  });
}

describe('the daemon over TLS', () => {
  let dir: string;
  let home: string;
  let stateDir: string;
  let builtins: Builtins;
  let daemon: Daemon;
  let url: string;
  let served: { cert: string; key: string; fingerprint: string };
  let other: { cert: string; key: string; fingerprint: string };
  let pin: CertificatePin;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'virtos-tls-it-'));
    home = join(dir, 'home');
    stateDir = testStateDir();
    served = makeCert(dir, 'served');
    other = makeCert(dir, 'other');
    builtins = await createBuiltins({
      home,
      stateDir,
      imageCacheDir: IMAGE_CACHE,
      logger: nullLogger,
    });
    daemon = await createDaemon({
      home,
      port: 0,
      logger: nullLogger,
      kdf: FAST_KDF,
      allowWeakKdf: true,
      makeOrchestrator: builtins.makeOrchestrator,
      tls: await loadTlsFiles(served.cert, served.key),
    });
    url = await daemon.listen();
    pin = {
      fingerprint256: served.fingerprint,
      certificate: await readFile(served.cert, 'utf8'),
    };
  });

  afterAll(async () => {
    await daemon?.close();
    builtins?.dispose();
    await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('serves https:// and records the certificate in daemon.json', async () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(daemon.tlsFingerprint).toBe(served.fingerprint);
    const file = await readJsonFile<DaemonFile>(homeFiles(home).daemon);
    expect(file?.url).toBe(url);
    expect(file?.tls?.fingerprint256).toBe(served.fingerprint);
    expect(new X509Certificate(file?.tls?.certificate ?? '').fingerprint256).toBe(
      served.fingerprint,
    );
  });

  it('answers GET /api/health over HTTPS when the certificate is trusted', async () => {
    const ca = await readFile(served.cert, 'utf8');
    const r = await httpsCall(`${url}/api/health`, ca);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, vault: 'none' });
  });

  it('does not answer plain HTTP on the TLS port', async () => {
    const plain = url.replace(/^https:/, 'http:') + '/api/health';
    await expect(
      new Promise((resolve, reject) => {
        const req = httpGet(plain, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', reject);
      }),
    ).rejects.toThrow();
  });

  it('creates the vault and unlocks over HTTPS with the pinned certificate; the API works', async () => {
    const anon = new DaemonClient(new HttpTransport(url, undefined, pin));
    await anon.initVault(PASS);
    const { token } = await anon.unlock({ passphrase: PASS });
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    const client = new DaemonClient(new HttpTransport(url, token, pin));
    expect(await client.list()).toEqual([]);
    expect(await client.health()).toMatchObject({ vault: 'unlocked' });
  });

  it('answers the stream-token route over HTTPS with a coded error for an unknown environment', async () => {
    const anon = new DaemonClient(new HttpTransport(url, undefined, pin));
    const { token } = await anon.unlock({ passphrase: PASS });
    const client = new DaemonClient(new HttpTransport(url, token, pin));
    const err = await client.streamToken('e-nonexistent').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VirtosError);
    expect((err as VirtosError).code).toMatch(/not_found$/);
  });

  it('accepts the https:// origin and refuses the http:// one', async () => {
    const ca = await readFile(served.cert, 'utf8');
    const call = (origin: string) =>
      httpsCall(`${url}/api/session`, ca, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: JSON.stringify({ passphrase: PASS }),
      });
    expect((await call(url)).status).toBe(201);
    const refused = await call(url.replace(/^https:/, 'http:'));
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('server.bad_origin');
  });

  it('runs the wss:// upgrade path: without a token, or from the http:// origin, it is refused', async () => {
    const ca = await readFile(served.cert, 'utf8');
    const wss = url.replace(/^https:/, 'wss:') + '/streams/e-nonexistent';
    expect(await upgradeStatus(wss, ca, url)).toBe(401);
    expect(await upgradeStatus(`${wss}?token=forged`, ca, url)).toBe(401);
    expect(await upgradeStatus(wss, ca, url.replace(/^https:/, 'http:'))).toBe(403);
  });

  it('the CLI client refuses a daemon presenting another certificate than the pinned one', async () => {
    const wrongPin: CertificatePin = {
      fingerprint256: other.fingerprint,
      certificate: await readFile(other.cert, 'utf8'),
    };
    const err = await new DaemonClient(new HttpTransport(url, undefined, wrongPin))
      .health()
      .catch((e: unknown) => e);
    expect((err as VirtosError).code).toBe('server.tls_untrusted');
    // Verification is on without a pin too: the self-signed certificate is not trusted.
    const unpinned = await new DaemonClient(new HttpTransport(url, undefined))
      .health()
      .catch((e: unknown) => e);
    expect((unpinned as VirtosError).code).toBe('server.tls_untrusted');
  });

  it('the pin is the exact certificate: the same name with another certificate is refused', async () => {
    // `other` is valid for 127.0.0.1 too and is trusted as an anchor, but it is not the pin.
    const mixed: CertificatePin = {
      fingerprint256: other.fingerprint,
      certificate: `${pin.certificate}\n${await readFile(other.cert, 'utf8')}`,
    };
    const err = await new DaemonClient(new HttpTransport(url, undefined, mixed))
      .health()
      .catch((e: unknown) => e);
    expect((err as VirtosError).code).toBe('server.tls_untrusted');
  });
});

describe('TLS beyond loopback', () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'virtos-tls-req-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('runDaemon refuses a non-loopback --host without TLS before doing anything', async () => {
    const err = await runDaemon({
      home,
      host: '192.0.2.10',
      hostExplicit: true,
      port: 0,
      say: () => undefined,
      env: {},
      logger: nullLogger,
      handleSignals: false,
    }).catch((e: unknown) => e);
    expect((err as VirtosError).code).toBe('server.tls_required');
    expect((err as VirtosError).hint).toContain('--tls-self-signed');
    // Refused before the registry choice is recorded or anything is built.
    expect(existsSync(join(home, 'registry.json'))).toBe(false);
    expect(existsSync(homeFiles(home).daemon)).toBe(false);
  });

  it('createDaemon: an explicit non-loopback host needs TLS; an implicit one stays refused', async () => {
    const base = {
      home,
      logger: nullLogger,
      makeOrchestrator: () => {
        throw new Error('not reached');
      },
    };
    const explicit = await createDaemon({
      ...base,
      host: '192.0.2.10',
      allowNonLoopback: true,
    }).catch((e: unknown) => e);
    expect((explicit as VirtosError).code).toBe('server.tls_required');
    const implicit = await createDaemon({ ...base, host: '192.0.2.10' }).catch((e: unknown) => e);
    expect((implicit as VirtosError).code).toBe('server.bad_listen_address');
  });
});

describe('--tls-self-signed', () => {
  let home: string;
  let stateDir: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'virtos-tls-self-'));
    stateDir = testStateDir();
  });
  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  });

  it('makes a key (0600, in a 0700 dir) and a certificate for the address, then reuses them', async () => {
    const first = await ensureSelfSigned(home, '127.0.0.1');
    expect(first.created).toBe(true);
    const paths = selfSignedPaths(home);
    expect((await stat(paths.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(paths.key)).mode & 0o777).toBe(0o600);
    const x509 = new X509Certificate(await readFile(paths.cert, 'utf8'));
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.fingerprint256).toBe(first.fingerprint256);

    const again = await ensureSelfSigned(home, '127.0.0.1');
    expect(again.created).toBe(false);
    expect(again.fingerprint256).toBe(first.fingerprint256);

    // Another address is not in the certificate: a new pair names it.
    const moved = await ensureSelfSigned(home, '192.0.2.10');
    expect(moved.created).toBe(true);
    expect(moved.fingerprint256).not.toBe(first.fingerprint256);
    expect(new X509Certificate(moved.cert).checkIP('192.0.2.10')).toBe('192.0.2.10');
    expect((await stat(paths.key)).mode & 0o777).toBe(0o600);
  });

  it('runDaemon serves it, prints its fingerprint, and the CLI pins it from daemon.json', async () => {
    const said: string[] = [];
    const running = await runDaemon({
      home,
      host: '127.0.0.1',
      port: 0,
      tls: { selfSigned: true },
      say: (t) => said.push(t),
      env: {},
      logger: nullLogger,
      handleSignals: false,
      builtins: { stateDir, imageCacheDir: IMAGE_CACHE },
    });
    try {
      const file = await readJsonFile<DaemonFile>(homeFiles(home).daemon);
      expect(file?.tls).toBeDefined();
      expect(said.join('')).toContain(`fingerprint: ${file?.tls?.fingerprint256}`);
      const health = await new DaemonClient(
        new HttpTransport(running.url, undefined, file?.tls),
      ).health();
      expect(health).toMatchObject({ ok: true });
    } finally {
      await running.stop();
    }
    expect(existsSync(homeFiles(home).daemon)).toBe(false);
  });
});
