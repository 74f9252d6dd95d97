/**
 * The module's side: wait for the shell's handshake, then call capability-checked methods. This
 * is everything a module can reach; it has no network (its frame's CSP says `connect-src 'none'`).
 */
import { parseConnect, RpcClient, type PortLike } from './protocol.js';
import type {
  AuditEntryView,
  ComposeView,
  EnvironmentEventView,
  EnvironmentView,
  FileView,
  NoteView,
  SearchHitView,
  SecurityStatusView,
} from './types.js';

/** The typed API a connected module gets. Each group needs the capability named in its doc. */
export interface VirtosModule {
  /** The id the module was installed under. */
  readonly moduleId: string;
  /** Untyped call, for methods added after this SDK version. */
  call<T = unknown>(method: string, params?: unknown): Promise<T>;
  /** `notes:read` / `notes:write`. */
  readonly notes: {
    list(): Promise<NoteView[]>;
    get(id: string): Promise<NoteView>;
    revisions(id: string): Promise<NoteView[]>;
    create(input: { title: string; body?: string; tags?: string[] }): Promise<NoteView>;
    update(
      id: string,
      patch: { title?: string; body?: string; tags?: string[] },
    ): Promise<NoteView>;
    remove(id: string): Promise<void>;
  };
  /** `files:read` / `files:write`. Content travels as ArrayBuffer (moved, not copied). */
  readonly files: {
    list(): Promise<FileView[]>;
    read(id: string): Promise<ArrayBuffer>;
    put(name: string, data: ArrayBuffer, mime?: string): Promise<FileView>;
    remove(id: string): Promise<void>;
  };
  /** `search`. */
  readonly search: { query(q: string, limit?: number): Promise<SearchHitView[]> };
  /** `settings:read` / `settings:write`. */
  readonly settings: {
    list(): Promise<{ key: string; value: unknown }[]>;
    get(key: string): Promise<unknown>;
    set(key: string, value: unknown): Promise<void>;
  };
  /** `audit:read`: the Security Center's view. */
  readonly security: {
    status(): Promise<SecurityStatusView>;
    audit(limit?: number): Promise<AuditEntryView[]>;
    lock(): Promise<void>;
  };
  /** `environments:manage`. Shapes are the daemon's environment API (docs/daemon.md). */
  readonly environments: {
    /** Composes a spec with findings; `base` edits an earlier spec. Nothing is created. */
    compose(request: string, base?: Record<string, unknown>): Promise<ComposeView>;
    /** Creates from a request text or from a reviewed spec. */
    create(
      input: { request: string; name?: string } | { spec: Record<string, unknown>; name?: string },
    ): Promise<EnvironmentView>;
    list(): Promise<EnvironmentView[]>;
    get(id: string): Promise<EnvironmentView>;
    suspend(id: string): Promise<EnvironmentView>;
    resume(id: string): Promise<EnvironmentView>;
    terminate(id: string): Promise<EnvironmentView>;
    /** The history of one environment after `since` (a seq). */
    events(id: string, since?: number): Promise<EnvironmentEventView[]>;
    /**
     * Follows live events (of one environment with `id`, else of all). The shell holds the
     * authenticated stream and relays each event; one watch per module (a new one replaces it).
     * `onEnd` runs when the stream ends (lock, daemon stop, network). Returns a stop function.
     */
    watch(
      listener: (e: EnvironmentEventView) => void,
      opts?: { id?: string; since?: number; onEnd?: (reason: string) => void },
    ): Promise<() => Promise<void>>;
    /** Asks the shell to open the environment's window (its desktop or terminal). */
    open(id: string): Promise<void>;
  };
  /** The module's own small records (no capability needed; scoped to this module by the shell). */
  readonly storage: {
    get(key: string): Promise<unknown>;
    set(key: string, value: unknown): Promise<void>;
  };
  /** Keys typed on the shell's embedded keyboard while this module's window has it open. */
  onKey(listener: (key: string) => void): () => void;
  /** Asks the shell to save bytes as a download (`files:read`; sandboxed frames cannot). */
  download(name: string, data: ArrayBuffer, mime?: string): Promise<void>;
}

/** The event the shell pushes for each environment event of a watch. */
export const ENV_EVENT = 'environments.event';
/** The event the shell pushes when a watch's stream ends (data: the reason). */
export const ENV_WATCH_END = 'environments.watch_ended';

/** Wraps an RPC client in the typed API. */
export function moduleApi(rpc: RpcClient, moduleId: string): VirtosModule {
  const c = <T>(m: string, p: unknown = {}): Promise<T> => rpc.call<T>(m, p);
  /**
   * The module's current watch. The shell keeps one watch per module, so a new one replaces it:
   * the old listeners go (they would hear the new watch's events), and the old stop function
   * may no longer unwatch (that would end the new watch).
   */
  let currentWatch: { off(): void } | undefined;
  return {
    moduleId,
    call: c,
    notes: {
      list: () => c('notes.list'),
      get: (id) => c('notes.get', { id }),
      revisions: (id) => c('notes.revisions', { id }),
      create: (input) => c('notes.create', input),
      update: (id, patch) => c('notes.update', { id, ...patch }),
      remove: (id) => c('notes.remove', { id }),
    },
    files: {
      list: () => c('files.list'),
      read: (id) => c('files.read', { id }),
      put: (name, data, mime) => c('files.put', { name, data, ...(mime && { mime }) }),
      remove: (id) => c('files.remove', { id }),
    },
    search: { query: (q, limit) => c('search.query', { q, ...(limit && { limit }) }) },
    settings: {
      list: () => c('settings.list'),
      get: (key) => c('settings.get', { key }),
      set: (key, value) => c('settings.set', { key, value }),
    },
    security: {
      status: () => c('security.status'),
      audit: (limit) => c('audit.list', { ...(limit && { limit }) }),
      lock: () => c('security.lock'),
    },
    environments: {
      compose: (request, base) =>
        c('environments.compose', { request, ...(base !== undefined && { base }) }),
      create: (input) => c('environments.create', input),
      list: async () =>
        (await c<{ environments: EnvironmentView[] }>('environments.list')).environments,
      get: (id) => c('environments.get', { id }),
      suspend: (id) => c('environments.suspend', { id }),
      resume: (id) => c('environments.resume', { id }),
      terminate: (id) => c('environments.terminate', { id }),
      events: async (id, since) =>
        (
          await c<{ events: EnvironmentEventView[] }>('environments.events', {
            id,
            ...(since !== undefined && { since }),
          })
        ).events,
      watch: async (listener, opts = {}) => {
        currentWatch?.off();
        const offEvent = rpc.on(ENV_EVENT, (d) => listener(d as EnvironmentEventView));
        const offEnd = rpc.on(ENV_WATCH_END, (d) => {
          // The shell ended this watch (lock, refusal): nothing more comes, nothing to unwatch.
          watch.off();
          if (currentWatch === watch) currentWatch = undefined;
          opts.onEnd?.(typeof d === 'string' ? d : 'ended');
        });
        const watch = {
          off: () => {
            offEvent();
            offEnd();
          },
        };
        currentWatch = watch;
        try {
          await c('environments.watch', {
            ...(opts.id !== undefined && { id: opts.id }),
            ...(opts.since !== undefined && { since: opts.since }),
          });
        } catch (e) {
          watch.off();
          if (currentWatch === watch) currentWatch = undefined;
          throw e;
        }
        return async () => {
          watch.off();
          // Replaced by a newer watch (or ended): the shell's watch is not this one any more.
          if (currentWatch !== watch) return;
          currentWatch = undefined;
          await c('environments.unwatch');
        };
      },
      open: (id) => c('shell.openEnvironment', { id }),
    },
    storage: {
      get: (key) => c('storage.get', { key }),
      set: (key, value) => c('storage.set', { key, value }),
    },
    onKey: (listener) =>
      rpc.on('key', (d) => {
        if (typeof d === 'string') listener(d);
      }),
    download: (name, data, mime) => c('shell.download', { name, data, ...(mime && { mime }) }),
  };
}

/** Where the handshake comes from (a window, or a fake in tests). */
export interface HandshakeSource {
  addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
}

/**
 * Waits for the shell's handshake and returns the module's API. Call once, at start.
 * @param parent the window the handshake must come from (default `window.parent`).
 */
export function connect(
  opts: { source?: HandshakeSource; parent?: unknown; timeoutMs?: number } = {},
): Promise<VirtosModule> {
  const source = opts.source ?? (globalThis as unknown as { window: HandshakeSource }).window;
  const parent = opts.parent ?? (globalThis as unknown as { parent: unknown }).parent;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      source.removeEventListener('message', onMessage);
      reject(new Error(`No handshake from the shell within ${timeoutMs} ms.`));
    }, timeoutMs);
    function onMessage(ev: MessageEvent): void {
      // SECURITY: only the embedding shell may hand over the port; a message from any other
      // window (another frame, an opener) is ignored, and only the first handshake counts.
      if (ev.source !== parent) return;
      const hello = parseConnect(ev.data);
      const port = ev.ports[0] as PortLike | undefined;
      if (!hello || !port) return;
      clearTimeout(timer);
      source.removeEventListener('message', onMessage);
      resolve(moduleApi(new RpcClient(port), hello.moduleId));
    }
    source.addEventListener('message', onMessage);
  });
}
