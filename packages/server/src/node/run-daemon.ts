/**
 * `virtos` with no arguments: wire the real runtime (builtins.ts), start the daemon, print its URL,
 * and stop gracefully on SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import { createLogger, jsonLineSink, type Logger } from '@virtos/core';
import { createBuiltins, type BuiltinsOptions } from '../builtins.js';
import { createDaemon, DEFAULT_PORT, type Daemon } from './daemon.js';

/** Options of {@link runDaemon}. */
export interface RunDaemonOptions {
  readonly home: string;
  readonly host?: string;
  readonly port?: number;
  /** True when `--host` was given explicitly (allows a non-loopback address, with a warning). */
  readonly hostExplicit?: boolean;
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
  const builtins = await createBuiltins({
    home: opts.home,
    logger,
    ...(env['VIRTOS_IMAGE_CACHE'] && { imageCacheDir: env['VIRTOS_IMAGE_CACHE'] }),
    ...(env['VIRTOS_STATE_DIR'] && { stateDir: env['VIRTOS_STATE_DIR'] }),
    ...opts.builtins,
  });
  const daemon = await createDaemon({
    home: opts.home,
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? DEFAULT_PORT,
    allowNonLoopback: opts.hostExplicit === true,
    makeOrchestrator: builtins.makeOrchestrator,
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
        await daemon.close();
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
  opts.say(`VirtOS is running at ${url}/\n`);
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
