/**
 * How a CLI command reaches the daemon: over HTTP with the token of `$VIRTOS_HOME/session.json`
 * when a daemon runs, or embedded (the daemon built in this process, the vault unlocked for this
 * one command, nothing listening) when none does.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  DaemonClient,
  HttpTransport,
  InjectTransport,
  ServerErrors,
  createBuiltins,
  createDaemon,
  homeFiles,
  readJsonFile,
  registryChoiceFor,
  type DaemonFile,
  type SessionFile,
} from '@virtos/server';
import { createLogger, jsonLineSink } from '@virtos/core';
import type { CliContext } from '../../io.js';
import { SecretSource } from '../vault/secrets.js';

/** `$VIRTOS_HOME`, default ~/.virtos. */
export function virtosHome(ctx: CliContext): string {
  return ctx.env['VIRTOS_HOME'] ?? join(ctx.env['HOME'] ?? homedir(), '.virtos');
}

/** Options that choose how to reach the daemon. */
export interface ConnectOptions {
  /** Unlock from this fd in embedded mode. */
  readonly passphraseFd?: number;
  /** Never run embedded: fail when no daemon answers, saying why this command needs it. */
  readonly requireDaemon?: string;
}

/** A client and what to do when the command is done. */
export interface Connection {
  readonly client: DaemonClient;
  readonly embedded: boolean;
  close(): Promise<void>;
}

/**
 * A running daemon from daemon.json (its URL and, with TLS, the certificate to pin), when it
 * answers. A daemon that presents another certificate than the recorded one is an error.
 */
export async function findDaemon(home: string): Promise<DaemonFile | undefined> {
  const d = await readJsonFile<DaemonFile>(homeFiles(home).daemon);
  if (!d?.url) return undefined;
  try {
    await new DaemonClient(new HttpTransport(d.url, undefined, d.tls)).health();
    return d;
  } catch (e) {
    if (ServerErrors.is(e, 'tls_untrusted')) throw e;
    return undefined;
  }
}

/** Connects to the running daemon, or builds one in this process. */
export async function connect(ctx: CliContext, opts: ConnectOptions = {}): Promise<Connection> {
  const home = virtosHome(ctx);
  const session = await readJsonFile<SessionFile>(homeFiles(home).session);
  const running = await findDaemon(home);
  if (running) {
    if (!session?.token || session.url !== running.url) {
      throw ServerErrors.create(
        'unauthenticated',
        `The daemon at ${running.url} needs a session.`,
        {
          hint: 'Run `virtos unlock` first.',
        },
      );
    }
    const client = new DaemonClient(new HttpTransport(running.url, session.token, running.tls));
    return { client, embedded: false, close: async () => {} };
  }
  if (opts.requireDaemon !== undefined) {
    throw ServerErrors.create(
      'daemon_unreachable',
      `No VirtOS daemon is running, and this command needs it: ${opts.requireDaemon}`,
      { hint: 'Start it with `virtos` (no arguments) in another terminal, then `virtos unlock`.' },
    );
  }
  return embedded(ctx, home, opts);
}

async function embedded(ctx: CliContext, home: string, opts: ConnectOptions): Promise<Connection> {
  const logger = createLogger({
    level: ctx.env['VIRTOS_LOG_LEVEL'] === 'debug' ? 'debug' : 'warn',
    sink: jsonLineSink((l) => ctx.err(l)),
    fields: { svc: 'virtos-embedded' },
  });
  // The registry the environments of this home are recorded in: $VIRTOS_REGISTRY, else the last
  // daemon's choice (registry.json), else the vault. The orchestrator is one-shot: environments
  // run on after this process exits, so it takes none over and removes nothing it has no record
  // of (an orphan here may be a record of another registry); the next daemon reconciles.
  const registry = await registryChoiceFor(home, ctx.env['VIRTOS_REGISTRY']);
  const builtins = await createBuiltins({
    home,
    logger,
    registry,
    oneShot: true,
    ...(ctx.env['VIRTOS_IMAGE_CACHE'] && { imageCacheDir: ctx.env['VIRTOS_IMAGE_CACHE'] }),
    ...(ctx.env['VIRTOS_STATE_DIR'] && { stateDir: ctx.env['VIRTOS_STATE_DIR'] }),
  });
  const daemon = await createDaemon({
    home,
    port: 0,
    makeOrchestrator: builtins.makeOrchestrator,
    logger,
  });
  await daemon.app.ready();
  const transport = new InjectTransport(daemon.app, '127.0.0.1:0', undefined);
  const client = new DaemonClient(transport);
  const close = async () => {
    await daemon.close();
    builtins.dispose();
  };
  try {
    if (!daemon.state.hasVault()) {
      throw ServerErrors.create('no_vault', 'There is no vault yet.', {
        hint: 'Create one: virtos init (with the daemon running) or virtos vault init.',
      });
    }
    const passphrase = await new SecretSource().read('passphrase', opts.passphraseFd);
    const { token } = await client.unlock({ passphrase });
    transport.setToken(token);
  } catch (e) {
    await close();
    throw e;
  }
  return { client, embedded: true, close };
}
