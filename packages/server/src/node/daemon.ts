/**
 * The daemon: the composition of sessions, the personal state (vault + orchestrator), the HTTP app
 * and its routes, the upgrade router for WebSocket plugins, listening, and graceful shutdown.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createLogger, jsonLineSink, systemClock, type Clock, type Logger } from '@virtos/core';
import type { Orchestrator } from '@virtos/orchestrator';
import type { KdfParams, Vault } from '@virtos/vault';
import { buildApp, type HttpMetrics } from './app.js';
import { isLoopbackHost, type ListenIdentity } from '../common/request-guard.js';
import { ServerErrors } from '../errors.js';
import { homeFiles, removeFile, writePrivateJson } from './client.js';
import { PersonalState } from './personal-state.js';
import { registerEnvironmentRoutes } from './routes/environment-routes.js';
import { registerSessionRoutes } from './routes/session-routes.js';
import { registerMetricsRoute } from './routes/metrics-route.js';
import { registerModuleApiRoutes } from './routes/module-api-routes.js';
import { registerShellRoutes } from './routes/shell-routes.js';
import { SessionManager } from './session-manager.js';
import { UpgradeRouter, type UpgradeAuthenticator, type UpgradeHandler } from './upgrade-router.js';

/** The daemon's default port. */
export const DEFAULT_PORT = 7460;
/** The daemon's version (API and OpenAPI document). */
export const DAEMON_VERSION = '0.1.0';

/** Makes the orchestrator for an unlocked vault (builtins.ts wires the real one). */
export type OrchestratorFactory = (
  vault: Vault,
  logger: Logger,
) => Orchestrator | Promise<Orchestrator>;

/** Options of {@link createDaemon}. */
export interface DaemonOptions {
  /** The data directory (`$VIRTOS_HOME`, default ~/.virtos). */
  readonly home: string;
  /** Listen address; loopback unless `allowNonLoopback` (default 127.0.0.1). */
  readonly host?: string;
  /** Port; 0 picks a free one (default {@link DEFAULT_PORT}). */
  readonly port?: number;
  /** Set when the user named a non-loopback --host explicitly (a warning is logged). */
  readonly allowNonLoopback?: boolean;
  readonly makeOrchestrator: OrchestratorFactory;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Session idle timeout in ms (default 15 min): after it, the vault locks. */
  readonly idleMs?: number;
  /** Request-body limit in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
  /** Argon2id parameters for a new vault (tests only). */
  readonly kdf?: KdfParams;
  readonly allowWeakKdf?: boolean;
}

/** A composed daemon, listening or not. */
export interface Daemon {
  readonly app: FastifyInstance;
  readonly sessions: SessionManager;
  readonly state: PersonalState<Orchestrator>;
  readonly metrics: HttpMetrics;
  readonly logger: Logger;
  /** `http://host:port` once listening. */
  readonly url: string;
  /**
   * Mounts a WebSocket handler under `pathPrefix` (the gateway's `/streams/`); Host, Origin and a
   * token are checked before `handler` sees the request.
   */
  registerUpgrade(
    pathPrefix: string,
    handler: UpgradeHandler,
    authenticate?: UpgradeAuthenticator,
  ): void;
  /** Starts listening; resolves with the URL. */
  listen(): Promise<string>;
  /**
   * Graceful shutdown: stop accepting requests, end event streams, stop the orchestrator (its
   * records are persisted; provisionings in flight are aborted and recorded so the next start
   * reconciles them), lock and close the vault.
   */
  close(): Promise<void>;
}

/** Builds the daemon. Call `listen()` to serve, or use `app.inject` in-process. */
export async function createDaemon(options: DaemonOptions): Promise<Daemon> {
  const host = options.host ?? '127.0.0.1';
  // SECURITY: nothing listens beyond this machine unless the user asked for it by name; TLS for
  // non-loopback addresses is a later issue, so plain HTTP there is loudly warned about.
  if (!isLoopbackHost(host) && options.allowNonLoopback !== true) {
    throw ServerErrors.create('bad_listen_address', `Refusing to listen on ${host}.`, {
      hint: 'The daemon listens on 127.0.0.1; pass --host explicitly to listen elsewhere.',
    });
  }
  const clock = options.clock ?? systemClock;
  const logger =
    options.logger ??
    createLogger({
      sink: jsonLineSink((l) => process.stderr.write(l)),
      fields: { svc: 'virtosd' },
    });
  let port = options.port ?? DEFAULT_PORT;
  const identity = (): ListenIdentity => ({ host, port });

  const state: PersonalState<Orchestrator> = new PersonalState<Orchestrator>({
    vaultPath: join(options.home, 'vault.virtos'),
    deviceDir: join(options.home, 'device'),
    logger,
    makeService: (vault) =>
      options.makeOrchestrator(vault, logger.child({ component: 'orchestrator' })),
    ...(options.kdf && { kdf: options.kdf }),
    ...(options.allowWeakKdf && { allowWeakKdf: true }),
  });
  const idleMs = options.idleMs ?? 15 * 60_000;
  const sessions = new SessionManager({
    clock,
    idleMs,
    onIdle: () => {
      logger.info('sessions idle; locking the vault');
      void state.lock();
    },
  });
  const { app, metrics } = await buildApp({
    identity,
    sessions,
    logger,
    clock,
    version: DAEMON_VERSION,
    ...(options.bodyLimit !== undefined && { bodyLimit: options.bodyLimit }),
  });
  const shutdown = new AbortController();
  registerSessionRoutes(
    app,
    { state, sessions, version: DAEMON_VERSION },
    Math.round(idleMs / 1000),
  );
  registerEnvironmentRoutes(app, { state, signal: shutdown.signal, logger });
  registerMetricsRoute(app, { state, metrics });
  registerModuleApiRoutes(app, state);
  registerShellRoutes(app, {
    state,
    sessions,
    logger,
    clock,
    home: options.home,
    identity,
    idleS: Math.round(idleMs / 1000),
  });
  const upgrades = new UpgradeRouter(identity, sessions);
  let url = '';
  let listening = false;
  let closing: Promise<void> | undefined;

  return {
    app,
    sessions,
    state,
    metrics,
    logger,
    get url() {
      return url;
    },
    registerUpgrade: (prefix, handler, authenticate) =>
      upgrades.register(prefix, handler, authenticate),
    async listen() {
      await app.ready();
      upgrades.attach(app.server);
      await app.listen({ host, port });
      const addr = app.server.address();
      if (addr && typeof addr === 'object') port = addr.port;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      if (!isLoopbackHost(host)) {
        logger.warn('listening on a non-loopback address without TLS', {
          host,
          hint: 'Anyone who can reach this address can try passphrases; TLS comes in a later version.',
        });
      }
      // The CLI finds the daemon through this file (no secret in it: the URL and the pid).
      await writePrivateJson(homeFiles(options.home).daemon, { url, pid: process.pid });
      listening = true;
      logger.info('daemon listening', { url });
      return url;
    },
    close() {
      closing ??= (async () => {
        logger.info('daemon shutting down');
        shutdown.abort(ServerErrors.create('shutting_down', 'The daemon is shutting down.'));
        sessions.revokeAll();
        await app.close();
        await state.close();
        if (listening) await removeFile(homeFiles(options.home).daemon);
        logger.info('daemon stopped');
      })();
      return closing;
    },
  };
}
