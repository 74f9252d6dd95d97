/**
 * The daemon: the composition of sessions, the personal state (vault + orchestrator), the HTTP app
 * and its routes, the upgrade router for WebSocket plugins, listening, and graceful shutdown.
 */
import { isAbsolute, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createLogger, jsonLineSink, systemClock, type Clock, type Logger } from '@virtos/core';
import { StreamGateway, StreamTokenService } from '@virtos/gateway';
import type { Orchestrator } from '@virtos/orchestrator';
import type { KdfParams, Vault } from '@virtos/vault';
import { buildApp, type HttpMetrics } from './app.js';
import { allowedOrigins, isLoopbackHost, type ListenIdentity } from '../common/request-guard.js';
import { ServerErrors } from '../errors.js';
import {
  homeFiles,
  readJsonFile,
  removeFile,
  writePrivateJson,
  type DaemonFile,
} from './client.js';
import { PersonalState } from './personal-state.js';
import { PtyBridges } from './pty-bridge.js';
import { registerEnvironmentRoutes } from './routes/environment-routes.js';
import { registerSessionRoutes } from './routes/session-routes.js';
import { registerMetricsRoute } from './routes/metrics-route.js';
import { registerModuleApiRoutes } from './routes/module-api-routes.js';
import { registerShellRoutes } from './routes/shell-routes.js';
import { registerStreamRoutes } from './routes/stream-routes.js';
import { SessionManager } from './session-manager.js';
import { requireTlsBeyondLoopback, type TlsMaterial } from './tls.js';
import { UpgradeRouter, type UpgradeAuthenticator, type UpgradeHandler } from './upgrade-router.js';

/** Where the orchestrator's registry lives. */
export type RegistryChoice =
  { readonly kind: 'vault' } | { readonly kind: 'sqlite'; readonly path: string };

/**
 * Parses `--registry` / `$VIRTOS_REGISTRY`: `vault` (default, personal mode: inside the encrypted
 * vault), `host` (a plain SQLite file `<home>/registry.sqlite`, for shared hosts) or
 * `sqlite:<absolute path>`.
 */
export function parseRegistryChoice(value: string | undefined, home: string): RegistryChoice {
  const v = (value ?? 'vault').trim();
  if (v === '' || v === 'vault') return { kind: 'vault' };
  if (v === 'host') return { kind: 'sqlite', path: join(home, 'registry.sqlite') };
  if (v.startsWith('sqlite:') && isAbsolute(v.slice('sqlite:'.length))) {
    return { kind: 'sqlite', path: v.slice('sqlite:'.length) };
  }
  throw ServerErrors.create('bad_option', `Unknown registry '${v}'.`, {
    hint: 'Use vault (default), host, or sqlite:/absolute/path.',
  });
}

/** The file in `$VIRTOS_HOME` where the daemon keeps its registry choice (kept after it stops). */
export function registryChoiceFile(home: string): string {
  return join(home, 'registry.json');
}

/** The registry choice as `--registry` spells it (`vault`, `sqlite:/path`). */
export function formatRegistryChoice(choice: RegistryChoice): string {
  return choice.kind === 'vault' ? 'vault' : `sqlite:${choice.path}`;
}

/**
 * Records the daemon's registry choice in `$VIRTOS_HOME/registry.json` (mode 0600, no secret: a
 * word or a path), so a command that runs embedded while no daemon runs opens the same registry
 * the environments on this host are recorded in.
 */
export async function recordRegistryChoice(home: string, choice: RegistryChoice): Promise<void> {
  await writePrivateJson(registryChoiceFile(home), { registry: formatRegistryChoice(choice) });
}

/**
 * The registry for a command without a daemon: `$VIRTOS_REGISTRY` when set, else the one the last
 * daemon of this home recorded, else the vault.
 */
export async function registryChoiceFor(
  home: string,
  envValue: string | undefined,
): Promise<RegistryChoice> {
  if (envValue !== undefined && envValue.trim() !== '') return parseRegistryChoice(envValue, home);
  const recorded = await readJsonFile<{ registry?: unknown }>(registryChoiceFile(home));
  const value = typeof recorded?.registry === 'string' ? recorded.registry : undefined;
  return parseRegistryChoice(value, home);
}

/** What a graceful stop does with running and suspended environments. */
export type OnExitPolicy = 'keep' | 'suspend' | 'terminate';

/** Parses `--on-exit` / `$VIRTOS_ON_EXIT` (default `keep`). */
export function parseOnExit(value: string | undefined): OnExitPolicy {
  const v = (value ?? 'keep').trim();
  if (v === '' || v === 'keep') return 'keep';
  if (v === 'suspend' || v === 'terminate') return v;
  throw ServerErrors.create('bad_option', `Unknown exit policy '${v}'.`, {
    hint: 'Use keep (default: environments keep running), suspend or terminate.',
  });
}

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
  /** Listen address; loopback unless `allowNonLoopback` and `tls` (default 127.0.0.1). */
  readonly host?: string;
  /** Port; 0 picks a free one (default {@link DEFAULT_PORT}). */
  readonly port?: number;
  /** Set when the user named a non-loopback --host explicitly (it also needs `tls`). */
  readonly allowNonLoopback?: boolean;
  /**
   * Serve HTTPS with this certificate and key (tls.ts loads or makes them); required for a
   * non-loopback address, allowed on loopback too.
   */
  readonly tls?: TlsMaterial;
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
  /**
   * The daemon's runtime state dir, on /run (run-daemon passes builtins' `stateDir`); the PTY
   * bridges' sockets live in `<stateDir>/pty` (default `<home>/run`).
   */
  readonly stateDir?: string;
}

/** A composed daemon, listening or not. */
export interface Daemon {
  readonly app: FastifyInstance;
  readonly sessions: SessionManager;
  readonly state: PersonalState<Orchestrator>;
  readonly metrics: HttpMetrics;
  readonly logger: Logger;
  /** Stream tokens (issued by `POST /api/environments/:id/stream-token`). */
  readonly streamTokens: StreamTokenService;
  /** The streaming gateway on `/streams/`, once listening (its origins need the port). */
  readonly gateway: StreamGateway | undefined;
  /** `http://host:port` (`https://` with TLS) once listening. */
  readonly url: string;
  /** SHA-256 fingerprint of the served certificate (`AB:CD:…`), when the daemon serves TLS. */
  readonly tlsFingerprint: string | undefined;
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
  // SECURITY: nothing listens beyond this machine unless the user asked for it by name, and then
  // only over TLS (the passphrase and the tokens must not cross a network in clear text).
  if (!isLoopbackHost(host) && options.allowNonLoopback !== true) {
    throw ServerErrors.create('bad_listen_address', `Refusing to listen on ${host}.`, {
      hint: 'The daemon listens on 127.0.0.1; pass --host explicitly (with TLS) to listen elsewhere.',
    });
  }
  requireTlsBeyondLoopback(host, options.tls !== undefined);
  const tls = options.tls;
  const clock = options.clock ?? systemClock;
  const logger =
    options.logger ??
    createLogger({
      sink: jsonLineSink((l) => process.stderr.write(l)),
      fields: { svc: 'virtosd' },
    });
  let port = options.port ?? DEFAULT_PORT;
  const identity = (): ListenIdentity => ({ host, port, tls: tls !== undefined });

  const state: PersonalState<Orchestrator> = new PersonalState<Orchestrator>({
    vaultPath: join(options.home, 'vault.virtos'),
    deviceDir: join(options.home, 'device'),
    logger,
    makeService: async (vault) => {
      const orch = await options.makeOrchestrator(
        vault,
        logger.child({ component: 'orchestrator' }),
      );
      // SECURITY: a stream must not outlive its environment's running state. The orchestrator
      // announces transitions after the provisioner froze or removed the environment; the streams
      // (and outstanding tokens) of that environment end here with a code the client can show.
      orch.onDidChange((e) => {
        if (e.type !== 'transition' || !e.to) return;
        // SECURITY: no shell of an environment that is no longer running stays open.
        if (e.to !== 'running') ptyBridges.close(e.envId);
        if (e.to === 'suspended') gateway?.closeEnvironment(e.envId, 'suspended');
        else if (e.to === 'terminated') gateway?.closeEnvironment(e.envId, 'terminated');
        else if (e.to === 'failed') {
          gateway?.closeEnvironment(e.envId, 'other', 'The environment failed.');
        }
        if (e.to === 'suspended' || e.to === 'terminated' || e.to === 'failed') {
          streamTokens.revokeEnvironment(e.envId);
        }
      });
      return orch;
    },
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
    ...(tls && { tls: { cert: tls.cert, key: tls.key } }),
  });
  const shutdown = new AbortController();
  // The streaming gateway: tokens exist from the start (the API issues them); the gateway is made
  // at listen, when the port (and so the daemon's own origins) is known.
  const streamTokens = new StreamTokenService({ clock });
  // Terminal environments: one PTY bridge per environment, started on the first stream.
  const ptyBridges = new PtyBridges({
    dir: join(options.stateDir ?? join(options.home, 'run'), 'pty'),
    open: (envId, req) => state.current().openPty(envId, req),
    logger: logger.child({ component: 'pty-bridge' }),
  });
  let gateway: StreamGateway | undefined;
  const tokenSessions = new Set<string>();
  registerSessionRoutes(
    app,
    { state, sessions, version: DAEMON_VERSION },
    Math.round(idleMs / 1000),
  );
  registerEnvironmentRoutes(app, { state, signal: shutdown.signal, logger });
  registerMetricsRoute(app, { state, metrics, extra: () => gateway?.metrics() ?? '' });
  registerModuleApiRoutes(app, state);
  registerStreamRoutes(app, {
    state,
    sessions,
    tokens: streamTokens,
    gateway: () => gateway,
    onIssued: (sessionId) => tokenSessions.add(sessionId),
  });
  // SECURITY: locking ends every session, so every stream token a session holds is revoked, and
  // open streams end too (the display of a locked computer must not stay on screen).
  state.onDidLock(() => {
    for (const sessionId of tokenSessions) streamTokens.revokeSession(sessionId);
    tokenSessions.clear();
    ptyBridges.closeAll();
    if (gateway) {
      for (const envId of new Set(gateway.stats().map((s) => s.envId))) {
        gateway.closeEnvironment(envId, 'other', 'The vault was locked.');
      }
    }
  });
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
  // SECURITY: mounted on the upgrade router, so the daemon's Host and Origin checks run first.
  // Browsers cannot send Authorization on a WebSocket: the stream token in `?token=` is the
  // credential. The router pre-checks it (without consuming a valid one; a failing one is burnt)
  // and the gateway consumes it (single use), checks the Origin against its own exact list, and
  // connects only to the endpoint the resolver names.
  upgrades.register(
    '/streams/',
    (req, socket, head) => {
      if (!gateway?.handleUpgrade(req, socket, head)) socket.destroy();
    },
    (req) => {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      // The raw (undecoded) id, as the gateway reads it.
      const envId = (q < 0 ? url : url.slice(0, q)).slice('/streams/'.length);
      const token = new URLSearchParams(q < 0 ? '' : url.slice(q + 1)).get('token');
      return streamTokens.check(token, envId);
    },
  );
  let url = '';
  let listening = false;
  let closing: Promise<void> | undefined;

  return {
    app,
    sessions,
    state,
    metrics,
    logger,
    streamTokens,
    get gateway() {
      return gateway;
    },
    get url() {
      return url;
    },
    tlsFingerprint: tls?.fingerprint256,
    registerUpgrade: (prefix, handler, authenticate) =>
      upgrades.register(prefix, handler, authenticate),
    async listen() {
      await app.ready();
      upgrades.attach(app.server);
      await app.listen({ host, port });
      const addr = app.server.address();
      if (addr && typeof addr === 'object') port = addr.port;
      // SECURITY: only the daemon's own origins (http://127.0.0.1:<port>, http://localhost:<port>,
      // and the listen host's; https:// with TLS) may open streams; never derived from a request's
      // Host header.
      gateway = new StreamGateway({
        tokens: streamTokens,
        allowedOrigins: [...allowedOrigins(identity())],
        clock,
        logger: logger.child({ component: 'gateway' }),
        // SECURITY: the socket path comes only from the orchestrator, keyed by the checked id.
        resolveEndpoint: async (envId) => {
          const orch = state.current();
          const rec = await orch.get(envId);
          if (rec.state !== 'running') return undefined;
          if (rec.spec.display === 'terminal') {
            return { protocol: 'pty', socketPath: await ptyBridges.endpoint(envId) };
          }
          if (rec.spec.display !== 'desktop') return undefined;
          const d = await orch.display(envId);
          return { protocol: d.protocol, socketPath: d.socketPath };
        },
      });
      const scheme = tls ? 'https' : 'http';
      url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
      // The CLI finds the daemon through this file (no secret in it: the URL, the pid and, with
      // TLS, the public certificate the CLI pins instead of trusting any authority).
      const file: DaemonFile = {
        url,
        pid: process.pid,
        ...(tls && {
          tls: { fingerprint256: tls.fingerprint256, certificate: tls.cert },
        }),
      };
      await writePrivateJson(homeFiles(options.home).daemon, file);
      listening = true;
      logger.info('daemon listening', { url });
      return url;
    },
    close() {
      closing ??= (async () => {
        logger.info('daemon shutting down');
        shutdown.abort(ServerErrors.create('shutting_down', 'The daemon is shutting down.'));
        sessions.revokeAll();
        // SECURITY: streams end (1001) and no new ones open before the orchestrator stops.
        gateway?.close();
        ptyBridges.dispose();
        await app.close();
        await state.close();
        if (listening) await removeFile(homeFiles(options.home).daemon);
        logger.info('daemon stopped');
      })();
      return closing;
    },
  };
}
