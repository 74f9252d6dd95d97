/**
 * TLS for the daemon: loading the user's certificate and key (`--tls-cert`/`--tls-key`), making a
 * self-signed pair once (`--tls-self-signed`, with the system's `openssl`), the rule that a
 * non-loopback address needs TLS, and the CLI side: trusting exactly the certificate the daemon
 * recorded in daemon.json (pinning by SHA-256 fingerprint) instead of any certificate authority.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { rootCertificates, type PeerCertificate } from 'node:tls';
import { isLoopbackHost } from '../common/request-guard.js';
import type { VirtosError } from '@virtos/core';
import { ServerErrors } from '../errors.js';

/** A certificate and its private key, in memory, ready for `https.createServer`. */
export interface TlsMaterial {
  /** The certificate (PEM; a chain may follow the leaf). */
  readonly cert: string;
  /** The private key (PEM). */
  readonly key: string;
  /** SHA-256 fingerprint of the leaf certificate, `AB:CD:…` (as browsers show it). */
  readonly fingerprint256: string;
}

/**
 * What the CLI trusts: the certificate the daemon serves (PEM, public) and its fingerprint.
 * daemon.json carries it while an https daemon runs.
 */
export interface CertificatePin {
  readonly fingerprint256: string;
  readonly certificate: string;
}

/** The TLS options a user gave (flags or `$VIRTOS_TLS_CERT`/`$VIRTOS_TLS_KEY`). */
export interface TlsChoice {
  readonly certPath?: string | undefined;
  readonly keyPath?: string | undefined;
  /** `--tls-self-signed`: make (once) and use a self-signed certificate for the listen address. */
  readonly selfSigned?: boolean | undefined;
}

/** The SHA-256 fingerprint (`AB:CD:…`) of the first certificate in `pem`. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/**
 * Refuses a non-loopback listen address without TLS: the passphrase and the session token would
 * cross the network in clear text.
 */
export function requireTlsBeyondLoopback(host: string, hasTls: boolean): void {
  // SECURITY: beyond this machine, the unlock request (passphrase) and every bearer token must be
  // encrypted; a loopback address never leaves the host, so TLS is optional there.
  if (!isLoopbackHost(host) && !hasTls) {
    throw ServerErrors.create('tls_required', `Refusing to listen on ${host} without TLS.`, {
      subject: host,
      hint:
        'Pass --tls-cert FILE --tls-key FILE (or $VIRTOS_TLS_CERT/$VIRTOS_TLS_KEY), or ' +
        '--tls-self-signed to make a self-signed certificate for this address.',
    });
  }
}

/**
 * Turns the user's TLS choice into key and certificate for `host`, or undefined when TLS is off.
 * A certificate without a key (or the reverse), or both with `--tls-self-signed`, is refused.
 */
export async function resolveTls(
  choice: TlsChoice,
  home: string,
  host: string,
): Promise<(TlsMaterial & { readonly created?: boolean }) | undefined> {
  const hasCert = choice.certPath !== undefined && choice.certPath !== '';
  const hasKey = choice.keyPath !== undefined && choice.keyPath !== '';
  if (choice.selfSigned === true) {
    if (hasCert || hasKey) {
      throw ServerErrors.create('bad_option', 'Both a certificate and --tls-self-signed given.', {
        hint: 'Use either --tls-cert/--tls-key or --tls-self-signed.',
      });
    }
    return ensureSelfSigned(home, host);
  }
  if (hasCert !== hasKey) {
    throw ServerErrors.create('bad_option', 'A TLS certificate needs its key, and the reverse.', {
      hint: 'Pass both --tls-cert FILE and --tls-key FILE (or $VIRTOS_TLS_CERT and $VIRTOS_TLS_KEY).',
    });
  }
  if (!hasCert) return undefined;
  return loadTlsFiles(choice.certPath ?? '', choice.keyPath ?? '');
}

/** Reads a certificate and its key and checks that they belong together. */
export async function loadTlsFiles(certPath: string, keyPath: string): Promise<TlsMaterial> {
  let cert: string;
  let key: string;
  try {
    cert = await readFile(certPath, 'utf8');
    key = await readFile(keyPath, 'utf8');
  } catch (e) {
    throw ServerErrors.create(
      'tls_unusable',
      `Cannot read the TLS certificate or key: ${(e as Error).message}.`,
      {
        subject: certPath,
        hint: 'Check the paths given to --tls-cert and --tls-key.',
        cause: e,
      },
    );
  }
  return checkPair(cert, key, certPath);
}

function checkPair(cert: string, key: string, subject: string): TlsMaterial {
  try {
    const x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not match');
    return { cert, key, fingerprint256: x509.fingerprint256 };
  } catch (e) {
    throw ServerErrors.create(
      'tls_unusable',
      `The TLS certificate or key is unusable: ${(e as Error).message}.`,
      {
        subject,
        hint: 'Give a PEM certificate and the PEM private key that belongs to it.',
        cause: e,
      },
    );
  }
}

/** Where `--tls-self-signed` keeps its key and certificate. */
export function selfSignedPaths(home: string): { dir: string; key: string; cert: string } {
  const dir = join(home, 'tls');
  return { dir, key: join(dir, 'self-signed.key'), cert: join(dir, 'self-signed.crt') };
}

/** Validity of a self-signed certificate, days (browsers cap public ones at 398; ours is pinned). */
const SELF_SIGNED_DAYS = 825;
/** A certificate that expires within this many ms is replaced at start. */
const RENEW_BEFORE_MS = 7 * 24 * 3600_000;

/**
 * The self-signed certificate for `host` under `<home>/tls/`: the existing one when it names
 * `host`, matches its key and is not about to expire; otherwise a new pair made with `openssl`.
 */
export async function ensureSelfSigned(
  home: string,
  host: string,
  now: () => number = Date.now,
): Promise<TlsMaterial & { readonly created: boolean }> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const isAddress = isIP(bare) !== 0;
  if (!isAddress && !/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(bare)) {
    throw ServerErrors.create('bad_option', `Cannot make a certificate for "${host}".`, {
      hint: 'Use an IP address or a DNS name with --host.',
    });
  }
  const paths = selfSignedPaths(home);
  // SECURITY: the private key lives in a directory only the user can enter (0700), and the key
  // file itself is 0600; both are enforced on every start, not only when they are created.
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await chmod(paths.dir, 0o700);
  const existing = await readExisting(paths);
  if (existing) {
    try {
      const x509 = new X509Certificate(existing.cert);
      const names = isAddress ? x509.checkIP(bare) : x509.checkHost(bare);
      const fresh = Date.parse(x509.validTo) - now() > RENEW_BEFORE_MS;
      if (names !== undefined && fresh) {
        const material = checkPair(existing.cert, existing.key, paths.cert);
        await chmod(paths.key, 0o600);
        return { ...material, created: false };
      }
    } catch {
      // Damaged or foreign files: replaced below.
    }
  }
  const san = [
    isAddress ? `IP:${bare}` : `DNS:${bare}`,
    'DNS:localhost',
    'IP:127.0.0.1',
    'IP:::1',
  ].filter((v, i, all) => all.indexOf(v) === i);
  const tmpKey = `${paths.key}.new`;
  const tmpCert = `${paths.cert}.new`;
  try {
    // SECURITY: openssl runs without a shell (execFile, fixed arguments; the host was checked to
    // be an address or a DNS name above) and writes the new key into the 0700 directory; the key
    // is unencrypted (-noenc) because the daemon starts unattended, which is why its directory
    // and file modes are the protection. A new pair replaces the old one only once complete.
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-noenc',
      '-keyout',
      tmpKey,
      '-out',
      tmpCert,
      '-days',
      String(SELF_SIGNED_DAYS),
      '-subj',
      '/CN=VirtOS daemon',
      '-addext',
      `subjectAltName=${san.join(',')}`,
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'keyUsage=critical,digitalSignature',
      '-addext',
      'extendedKeyUsage=serverAuth',
    ]);
    await chmod(tmpKey, 0o600);
    await rename(tmpKey, paths.key);
    await rename(tmpCert, paths.cert);
  } catch (e) {
    await rm(tmpKey, { force: true });
    await rm(tmpCert, { force: true });
    if (ServerErrors.is(e, 'tls_unusable')) throw e;
    throw ServerErrors.create(
      'tls_unusable',
      `Cannot make a self-signed certificate: ${(e as Error).message}.`,
      {
        subject: paths.cert,
        cause: e,
        hint: 'Is openssl installed (apt-get install openssl)? Or pass --tls-cert and --tls-key.',
      },
    );
  }
  const made = await readExisting(paths);
  if (!made) {
    throw ServerErrors.create('tls_unusable', 'openssl did not write the certificate.', {
      subject: paths.cert,
      hint: 'Pass --tls-cert and --tls-key instead.',
    });
  }
  return { ...checkPair(made.cert, made.key, paths.cert), created: true };
}

async function readExisting(paths: {
  key: string;
  cert: string;
}): Promise<{ key: string; cert: string } | undefined> {
  try {
    const [s] = await Promise.all([stat(paths.key), stat(paths.cert)]);
    if (!s.isFile()) return undefined;
    return { key: await readFile(paths.key, 'utf8'), cert: await readFile(paths.cert, 'utf8') };
  } catch {
    return undefined;
  }
}

function run(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      reject(
        ServerErrors.create(
          'tls_unusable',
          code === 'ENOENT'
            ? 'The openssl command is not installed.'
            : `openssl failed: ${String(stderr).trim() || err.message}`,
          {
            hint: 'Install it (apt-get install openssl), or pass --tls-cert and --tls-key.',
            cause: err,
          },
        ),
      );
    });
  });
}

/**
 * TLS client options that trust exactly the pinned certificate: it is added as a trust anchor
 * (next to the system's authorities, so a CA-issued certificate with its chain verifies too), and
 * the usual host-name check is replaced by the stricter one that the presented leaf IS the pinned
 * certificate. Usable with `tls.connect`, `https.request`, `ws` and undici's `connect` options.
 */
export function pinnedTlsOptions(pin: CertificatePin): {
  ca: string[];
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
} {
  const want = pin.fingerprint256.toUpperCase();
  return {
    ca: [...rootCertificates, pin.certificate],
    // SECURITY: the chain was verified before this runs (verification stays on); then only the
    // one certificate the daemon recorded is accepted, so another certificate for the same name,
    // even one a public authority issued, is refused.
    checkServerIdentity: (host, cert) =>
      cert.fingerprint256?.toUpperCase() === want
        ? undefined
        : ServerErrors.create(
            'tls_untrusted',
            `The daemon at ${host} presented a certificate other than the one it recorded.`,
            {
              subject: host,
              details: { expected: want, presented: cert.fingerprint256 ?? '' },
              hint:
                'Another program may be answering on the daemon port. Restart the daemon, or ' +
                'compare the fingerprint it printed with the one in $VIRTOS_HOME/daemon.json.',
            },
          ),
  };
}

/** OpenSSL's and Node's codes for a certificate that did not verify. */
const VERIFY_FAILURE =
  /^(?:ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|CERT_[A-Z_]+)$/;

/**
 * The coded error for a failed TLS connection when the cause is the daemon's certificate (not the
 * pinned one, or not trusted at all), found anywhere in `e`'s cause chain; undefined otherwise.
 */
export function certificateFailure(e: unknown, url: string): VirtosError | undefined {
  for (let c = e, depth = 0; c !== undefined && c !== null && depth < 8; depth++) {
    if (ServerErrors.is(c, 'tls_untrusted')) return c as VirtosError;
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && VERIFY_FAILURE.test(code)) {
      return ServerErrors.create(
        'tls_untrusted',
        `The daemon at ${url} presented a certificate that is not the one recorded (${code}).`,
        {
          subject: url,
          cause: c,
          hint:
            'The CLI trusts only the certificate in $VIRTOS_HOME/daemon.json. Restart the daemon, ' +
            'or check that no other program answers on its port.',
        },
      );
    }
    c = (c as { cause?: unknown }).cause;
  }
  return undefined;
}
