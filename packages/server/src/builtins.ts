/**
 * The one place where concrete parts are chosen (containerd's `builtins`): the image store, the
 * network manager, the OCI drivers (crun or runc for `container`, gVisor's runsc for `microvm`
 * when it works here) and the real provisioner, and the orchestrator over the vault-backed
 * registry. Everything else in the daemon sees interfaces only.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { nullLogger, type Clock, type Disposable, type Logger } from '@virtos/core';
import { createImageStore, WarmPool } from '@virtos/images';
import {
  Orchestrator,
  SqliteRegistryStore,
  type HostInfo,
  type Provisioner,
  type RegistryStore,
} from '@virtos/orchestrator';
import {
  createOciDriver,
  createProvisioner,
  probeRuntime,
  type RuntimeDriver,
} from '@virtos/runtime';
import {
  createNetworkManager,
  type NetworkManager,
  type NetworkManagerOptions,
} from '@virtos/sandbox';
import type { Vault } from '@virtos/vault';
import type { OrchestratorFactory, RegistryChoice } from './node/daemon.js';
import { VaultRegistryStore } from './node/vault-registry-store.js';

/** Options of {@link createBuiltins}. */
export interface BuiltinsOptions {
  /** `$VIRTOS_HOME`: image layers are cached in `<home>/images` unless `imageCacheDir` is set. */
  readonly home: string;
  /**
   * Runtime state (provisioner records, bundles, netns records, mount points). Must be on a tmpfs:
   * default `/run/virtos/d-<hash of home>`, so two daemons with different homes never share it.
   */
  readonly stateDir?: string;
  /** Image layer cache (default `<home>/images`; `$VIRTOS_IMAGE_CACHE` in tests and benches). */
  readonly imageCacheDir?: string;
  /** Force one OCI runtime for `container` (default: crun, else runc). */
  readonly containerRuntime?: 'crun' | 'runc';
  /** Hosts to schedule on (default: this machine's capacity). Tests pass a small one. */
  readonly hosts?: readonly HostInfo[];
  /** Ready root mounts for desktops: how many to keep warm (default 0). */
  readonly warmDesktops?: number;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Period of the orchestrator's full reconcile, ms (default its own, 15 s). */
  readonly reconcileIntervalMs?: number;
  /**
   * Where the registry lives: inside the unlocked vault (default, personal mode), or a plain
   * SQLite file (host mode: not encrypted, for shared hosts; docs/daemon.md).
   */
  readonly registry?: RegistryChoice;
  /**
   * A process that serves one command and exits (the CLI's embedded mode): its orchestrators take
   * nothing over (see the orchestrator's `oneShot`); environments stay the daemon's.
   */
  readonly oneShot?: boolean;
  /** Upstream name resolution and address policy of egress proxies (tests: stand-in upstreams). */
  readonly network?: Pick<NetworkManagerOptions, 'resolver' | 'isForbiddenUpstream'>;
}

/** The wired parts. */
export interface Builtins extends Disposable {
  readonly provisioner: Provisioner;
  readonly network: NetworkManager;
  readonly stateDir: string;
  /** Which OCI runtimes were chosen, and why others were not. */
  readonly runtimes: {
    readonly container: string;
    readonly microvm?: string;
    readonly notes: string[];
  };
  readonly warmPool: WarmPool | undefined;
  /** Makes an orchestrator over the vault's registry with this provisioner. */
  readonly makeOrchestrator: OrchestratorFactory;
  /**
   * Host mode (a SQLite registry): makes an orchestrator over it that needs no vault, e.g. to
   * settle environments at shutdown while the vault is locked. Undefined in vault mode.
   */
  readonly makeRegistryOrchestrator:
    ((logger: Logger, oneShot: boolean) => Orchestrator) | undefined;
}

/** The default runtime state dir for a home: on /run (RAM), one per home. */
export function defaultStateDir(home: string): string {
  const h = createHash('sha256').update(home).digest('hex').slice(0, 12);
  return `/run/virtos/d-${h}`;
}

/**
 * Wires the real provisioner. Needs root (namespaces, mounts, cgroups) and an OCI runtime; throws
 * `runtime.unavailable` with the doctor's reasons otherwise.
 */
export async function createBuiltins(opts: BuiltinsOptions): Promise<Builtins> {
  const logger = opts.logger ?? nullLogger;
  const stateDir = opts.stateDir ?? defaultStateDir(opts.home);
  const notes: string[] = [];
  // The doctor's probe decides: crun when it works on this cgroup layout, else runc (docs/runtime.md).
  const container = await createOciDriver({
    ...(opts.containerRuntime && { runtime: opts.containerRuntime }),
    stateDir: join(stateDir, 'rt'),
  });
  let microvm: RuntimeDriver | undefined;
  const runsc = await probeRuntime('runsc');
  if (runsc.status === 'ok') {
    microvm = await createOciDriver({ runtime: 'runsc', stateDir: join(stateDir, 'rt') });
  } else {
    notes.push(`runsc: ${runsc.reason}`);
  }
  const images = createImageStore({
    cacheDir: opts.imageCacheDir ?? join(opts.home, 'images'),
    logger: logger.child({ component: 'images' }),
  });
  // SECURITY: the network manager's records name peers (user data); its stateDir is on /run (RAM).
  const network = createNetworkManager({
    stateDir: join(stateDir, 'net'),
    logger: logger.child({ component: 'network' }),
    ...opts.network,
  });
  const warmPool =
    opts.warmDesktops && opts.warmDesktops > 0
      ? new WarmPool({ dir: join(stateDir, 'pool'), logger })
      : undefined;
  // SECURITY: host mode keeps the registry (specs, names, event history) in a plain SQLite file
  // (mode 0600, root-owned home); the user chose it by name for a shared host. It is opened once
  // and reused by every orchestrator of this process.
  let sqlite: SqliteRegistryStore | undefined;
  const registry = opts.registry ?? { kind: 'vault' };
  const sqliteStore = (path: string): RegistryStore => (sqlite ??= new SqliteRegistryStore(path));
  const storeFor = (vault: Vault): RegistryStore =>
    registry.kind === 'vault' ? new VaultRegistryStore(vault) : sqliteStore(registry.path);
  const provisioner = createProvisioner({
    stateDir: join(stateDir, 'prov'),
    images,
    network,
    drivers: { container, ...(microvm && { microvm }) },
    logger,
    ...(warmPool && { warmPool }),
    ...(opts.clock && { clock: opts.clock }),
  });
  logger.info('runtime wired', { container: container.kind, microvm: microvm?.kind, stateDir });
  const orchestratorOver = (store: RegistryStore, log: Logger, oneShot: boolean) =>
    new Orchestrator({
      store,
      provisioner,
      logger: log,
      ...(opts.hosts && { hosts: opts.hosts }),
      ...(opts.clock && { clock: opts.clock }),
      ...(opts.reconcileIntervalMs !== undefined && {
        reconcileIntervalMs: opts.reconcileIntervalMs,
      }),
      ...(oneShot && { oneShot: true }),
    });

  return {
    provisioner,
    network,
    stateDir,
    warmPool,
    runtimes: { container: container.kind, ...(microvm && { microvm: microvm.kind }), notes },
    makeOrchestrator: (vault: Vault, log: Logger) =>
      orchestratorOver(storeFor(vault), log, opts.oneShot === true),
    makeRegistryOrchestrator:
      registry.kind === 'sqlite'
        ? (log: Logger, oneShot: boolean) =>
            orchestratorOver(sqliteStore(registry.path), log, oneShot)
        : undefined,
    // The network manager is NOT disposed: that would cut the networks of environments that keep
    // running after the daemon stops (the next daemon adopts them). Egress proxies live in this
    // process and stop with it, which fails closed until the next daemon re-makes them.
    dispose() {
      void warmPool?.dispose();
      sqlite?.dispose();
      sqlite = undefined;
    },
  };
}
