/**
 * `virtos` with no arguments: wire the real runtime (builtins.ts), start the daemon, print its URL,
 * and stop gracefully on SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import { createLogger, jsonLineSink, type Logger } from '@virtos/core';
import { createBuiltins, type BuiltinsOptions } from '../builtins.js';
import type { Orchestrator, Provisioner } from '@virtos/orchestrator';
import {
  createDaemon,
  DEFAULT_PORT,
  parseOnExit,
  parseRegistryChoice,
  recordRegistryChoice,
  type Daemon,
  type OnExitPolicy,
} from './daemon.js';
import { requireTlsBeyondLoopback, resolveTls, selfSignedPaths, type TlsChoice } from './tls.js';

/** Options of {@link runDaemon}. */
export interface RunDaemonOptions {
  readonly home: string;
  readonly host?: string;
  readonly port?: number;
  /** True when `--host` was given explicitly (allows a non-loopback address, with TLS only). */
  readonly hostExplicit?: boolean;
  /**
   * `--tls-cert`/`--tls-key` (default `$VIRTOS_TLS_CERT`/`$VIRTOS_TLS_KEY`) or `--tls-self-signed`:
   * serve HTTPS. Required for a non-loopback host.
   */
  readonly tls?: TlsChoice;
  /** Open the URL in a browser (only when DISPLAY is set; `--no-open` turns it off). */
  readonly open?: boolean;
  /** Where the URL and notices for a person go (stdout). */
  readonly say: (text: string) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  /** Passed to the builtins (tests: state dir, image cache, small hosts). */
  readonly builtins?: Partial<BuiltinsOptions>;
  /** Install SIGINT/SIGTERM handlers (default true). */
  readonly handleSignals?: boolean;
  readonly idleMs?: number;
  /** `--registry`: vault (default), host, or sqlite:/path (default `$VIRTOS_REGISTRY`). */
  readonly registry?: string;
  /**
   * `--on-exit`: what a graceful stop does with running environments (default `$VIRTOS_ON_EXIT`,
   * else `keep`: they keep running and the next daemon adopts them).
   */
  readonly onExit?: string;
}

/** A started daemon and a promise that settles when it has stopped. */
export interface RunningDaemon {
  readonly daemon: Daemon;
  readonly url: string;
  readonly stopped: Promise<void>;
  stop(): Promise<void>;
}

/** Starts the daemon with the real runtime. */
export async function runDaemon(opts: RunDaemonOptions): Promise<RunningDaemon> {
  const env = opts.env ?? process.env;
  const logger =
    opts.logger ??
    createLogger({
      level: env['VIRTOS_LOG_LEVEL'] === 'debug' ? 'debug' : 'info',
      sink: jsonLineSink((l) => process.stderr.write(l)),
      fields: { svc: 'virtosd' },
    });
  const registry = parseRegistryChoice(opts.registry ?? env['VIRTOS_REGISTRY'], opts.home);
  const onExit = parseOnExit(opts.onExit ?? env['VIRTOS_ON_EXIT']);
  const host = opts.host ?? '127.0.0.1';
  const tlsChoice: TlsChoice = {
    certPath: opts.tls?.certPath ?? env['VIRTOS_TLS_CERT'],
    keyPath: opts.tls?.keyPath ?? env['VIRTOS_TLS_KEY'],
    selfSigned: opts.tls?.selfSigned,
  };
  // Refused before anything is read, made or bound: a non-loopback address needs TLS (one not
  // named by --host is refused by createDaemon as before).
  if (opts.hostExplicit === true) {
    requireTlsBeyondLoopback(
      host,
      tlsChoice.selfSigned === true || Boolean(tlsChoice.certPath) || Boolean(tlsChoice.keyPath),
    );
  }
  const tls = await resolveTls(tlsChoice, opts.home, host);
  // Kept after the daemon stops: commands that run embedded meanwhile open the same registry.
  await recordRegistryChoice(opts.home, registry);
  const builtins = await createBuiltins({
    home: opts.home,
    logger,
    registry,
    ...(env['VIRTOS_IMAGE_CACHE'] && { imageCacheDir: env['VIRTOS_IMAGE_CACHE'] }),
    ...(env['VIRTOS_STATE_DIR'] && { stateDir: env['VIRTOS_STATE_DIR'] }),
    ...opts.builtins,
  });
  const daemon = await createDaemon({
    home: opts.home,
    host,
    port: opts.port ?? DEFAULT_PORT,
    allowNonLoopback: opts.hostExplicit === true,
    ...(tls && { tls }),
    makeOrchestrator: builtins.makeOrchestrator,
    stateDir: builtins.stateDir,
    logger,
    ...(opts.idleMs !== undefined && { idleMs: opts.idleMs }),
  });
  let url: string;
  try {
    url = await daemon.listen();
  } catch (e) {
    await daemon.close();
    builtins.dispose();
    throw e;
  }
  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      try {
        if (onExit !== 'keep') {
          if (daemon.state.isUnlocked) {
            await settleEnvironments(daemon.state.current(), onExit, logger);
          } else if (builtins.makeRegistryOrchestrator) {
            // Host mode: the registry is not in the vault, so the records can be written while it
            // is locked. This orchestrator takes nothing over (one-shot); it only settles.
            const orch = builtins.makeRegistryOrchestrator(
              logger.child({ component: 'orchestrator' }),
              true,
            );
            try {
              await orch.start();
              await settleEnvironments(orch, onExit, logger);
            } finally {
              await orch.shutdown();
            }
          } else {
            logger.info('the vault is locked: running environments are left as they are', {
              onExit,
            });
          }
        }
        // The orchestrator's shutdown aborts provisionings in flight (cleaned up and queued
        // again); running environments keep running with records that say so.
        await daemon.close();
        // terminate: anything still on the host (the vault was locked, so no record could be
        // written) is removed exactly; the next unlock's reconcile marks those records failed.
        if (onExit === 'terminate') await teardownAll(builtins.provisioner, logger);
      } finally {
        builtins.dispose();
        resolveStopped();
      }
    })());
  if (opts.handleSignals !== false) {
    const onSignal = (sig: NodeJS.Signals) => {
      logger.info('signal received; shutting down', { signal: sig });
      void stop().then(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  if (registry.kind === 'sqlite')
    logger.info('registry in a plain SQLite file', { path: registry.path });
  opts.say(`VirtOS is running at ${url}/\n`);
  if (tls) {
    if (tls.created === true) {
      opts.say(`Made a self-signed certificate: ${selfSignedPaths(opts.home).cert}\n`);
    }
    // The user compares this with what the browser shows before trusting the certificate.
    opts.say(`TLS certificate SHA-256 fingerprint: ${tls.fingerprint256}\n`);
  }
  if (!daemon.state.hasVault()) {
    opts.say('No vault yet: run `virtos init` in another terminal to create one.\n');
  } else {
    opts.say('The vault is locked: run `virtos unlock` in another terminal.\n');
  }
  if (opts.open === true && env['DISPLAY']) {
    // Opening a browser is a convenience; its failure is not the daemon's.
    const child = spawn('xdg-open', [url + '/'], { stdio: 'ignore', detached: true });
    child.on('error', () => logger.debug('xdg-open failed'));
    child.unref();
  }
  return { daemon, url, stopped, stop };
}

/** Longest a shutdown waits for environments to be terminated, ms. */
const SHUTDOWN_TERMINATE_MS = 60_000;

/**
 * `--on-exit suspend|terminate`. Environments outlive the daemon (the runtime runs them under
 * detached shims and the next daemon adopts them), so by default a stop leaves them alone. On
 * request they are frozen (records say `suspended`; the next daemon adopts them frozen) or
 * terminated through the orchestrator (records say `terminated`, every trace is removed);
 * requested ones stay queued either way, and provisionings in flight are aborted and queued again
 * by the orchestrator's own shutdown.
 */
async function settleEnvironments(
  orch: Orchestrator,
  policy: Exclude<OnExitPolicy, 'keep'>,
  logger: Logger,
): Promise<void> {
  const deadline = AbortSignal.timeout(SHUTDOWN_TERMINATE_MS);
  const timeout = new Promise<never>((_, reject) =>
    deadline.addEventListener('abort', () => reject(deadline.reason), { once: true }),
  );
  timeout.catch(() => undefined);
  // A provisioning that finishes meanwhile becomes running and is terminated by the next pass;
  // one still in flight after a few passes is aborted and queued again by the orchestrator.
  for (let pass = 0; pass < 10 && !deadline.aborted; pass++) {
    const all = await orch.list();
    const live = all.filter(
      (r) => r.state === 'running' || (policy === 'terminate' && r.state === 'suspended'),
    );
    if (live.length > 0)
      logger.info(
        `daemon stopping: ${policy === 'suspend' ? 'suspending' : 'terminating'} environments`,
        {
          count: live.length,
        },
      );
    await Promise.all(
      live.map((r) =>
        Promise.race([
          policy === 'suspend' ? orch.suspend(r.id) : orch.terminate(r.id),
          timeout,
        ]).catch((e: unknown) =>
          logger.warn(`could not ${policy} at shutdown`, { env: r.id, error: String(e) }),
        ),
      ),
    );
    if (!all.some((r) => r.state === 'provisioning')) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Removes every environment the provisioner still has on the host. */
async function teardownAll(provisioner: Provisioner, logger: Logger): Promise<void> {
  const ctx = { signal: AbortSignal.timeout(SHUTDOWN_TERMINATE_MS) };
  try {
    for (const id of await provisioner.list(ctx)) {
      await provisioner
        .teardown(ctx, id)
        .catch((e: unknown) =>
          logger.warn('teardown at shutdown failed', { env: id, error: String(e) }),
        );
    }
  } catch (e) {
    logger.warn('could not list environments at shutdown', { error: String(e) });
  }
}
