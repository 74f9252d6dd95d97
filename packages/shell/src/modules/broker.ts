/**
 * The module broker: every call a module makes arrives here, is checked against the capabilities
 * the user granted to that module at install, its parameters are validated, and only then is it
 * forwarded to the daemon with the shell's session. Anything else is refused with a coded error.
 */
import { z } from 'zod';
import {
  ENV_EVENT,
  ENV_WATCH_END,
  isMethodName,
  METHOD_CAPABILITY,
  RpcError,
  type Capability,
  type MethodName,
} from '@virtos/module-sdk';
import type { EnvironmentEventFeed, HubEvent } from '../lib/event-hub.js';
import type { DaemonTransport } from './daemon-transport.js';

/** Error codes the broker itself raises (daemon codes such as `vault.no_such_item` pass through). */
export const BrokerErrorCodes = {
  /** The module was not granted the capability this method needs. */
  capabilityDenied: 'module.capability_denied',
  /** No such method. */
  unknownMethod: 'module.unknown_method',
  /** The parameters do not match the method. */
  badParams: 'module.bad_params',
  /** The feature is not available in this VirtOS. */
  unavailable: 'module.unavailable',
} as const;

/** Shell actions a module may ask for (each behind its capability). */
export interface BrokerHooks {
  /** Lock the vault now (Security Center). Default: DELETE /api/session. */
  lock?(): Promise<void>;
  /** Save bytes as a download in the shell's document (sandboxed frames cannot download). */
  download?(name: string, data: ArrayBuffer, mime: string): void;
  /** Open the window of environment `id` (its desktop or terminal) in the shell. */
  openEnvironment?(id: string): void | Promise<void>;
}

/** Pushes an event to the module (its end of the channel). */
export type BrokerEmit = (event: string, data: unknown) => void;

/** Calls the broker refused or forwarded, for the shell's diagnostics and tests. */
export interface BrokerDecision {
  readonly moduleId: string;
  readonly method: string;
  readonly allowed: boolean;
  readonly code?: string;
}

/** Options of {@link ModuleBroker}. */
export interface ModuleBrokerOptions {
  readonly moduleId: string;
  /** What the user granted at install (from GET /api/modules). */
  readonly grants: readonly Capability[];
  readonly transport: DaemonTransport;
  /** The shell's shared environment event stream (watches subscribe to it). */
  readonly events: EnvironmentEventFeed;
  readonly hooks?: BrokerHooks;
  readonly onDecision?: (d: BrokerDecision) => void;
}

const Id = z
  .string()
  .min(1)
  .max(80)
  .regex(/^[A-Za-z0-9_-]+$/);
const Key = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9._:-]+$/);
const Empty = z.object({}).strict();
const ById = z.object({ id: Id }).strict();
const Tags = z.array(z.string().max(50)).max(50);
const NoteFields = { title: z.string().max(300), body: z.string().max(512 * 1024), tags: Tags };
const Buffer = z.instanceof(ArrayBuffer);
const Mime = z
  .string()
  .max(100)
  .regex(/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i);

const enc = encodeURIComponent;

/** Checks and forwards the calls of ONE module (one broker per module frame). */
export class ModuleBroker {
  private readonly granted: ReadonlySet<Capability>;
  private emit: BrokerEmit | undefined;
  /** The module's one event watch (a new watch replaces it). */
  private watch: { dispose(): void } | undefined;
  private isDisposed = false;

  constructor(private readonly options: ModuleBrokerOptions) {
    this.granted = new Set(options.grants);
  }

  /** The module this broker serves. */
  get moduleId(): string {
    return this.options.moduleId;
  }

  /** Connects the broker to the module's channel so it can push events (watches). */
  attach(emit: BrokerEmit): void {
    this.emit = emit;
  }

  /** Stops everything the module started (its event watch); the module is gone. */
  dispose(): void {
    this.isDisposed = true;
    this.watch?.dispose();
    this.watch = undefined;
    this.emit = undefined;
  }

  /** True while the module follows environment events. */
  get isWatching(): boolean {
    return this.watch !== undefined;
  }

  /** True when the module may call `method`. */
  isAllowed(method: string): boolean {
    if (!isMethodName(method)) return false;
    const needed: Capability | null = METHOD_CAPABILITY[method];
    return needed === null || this.granted.has(needed);
  }

  /** Handles one call: check, validate, forward. Throws {@link RpcError}. */
  async handle(method: string, params: unknown): Promise<unknown> {
    const { moduleId, onDecision } = this.options;
    if (!isMethodName(method)) {
      onDecision?.({ moduleId, method, allowed: false, code: BrokerErrorCodes.unknownMethod });
      throw new RpcError(BrokerErrorCodes.unknownMethod, `There is no method ${method}.`);
    }
    const needed: Capability | null = METHOD_CAPABILITY[method];
    // SECURITY: the capability check comes first, before parameters are even looked at, for
    // every method; `null` methods touch only the module's own records or its own UI.
    if (needed !== null && !this.granted.has(needed)) {
      onDecision?.({ moduleId, method, allowed: false, code: BrokerErrorCodes.capabilityDenied });
      throw new RpcError(
        BrokerErrorCodes.capabilityDenied,
        `Module ${moduleId} may not call ${method}: it needs ${needed}, which was not granted.`,
        'Grant the capability in the Module Manager, or leave the module without it.',
      );
    }
    onDecision?.({ moduleId, method, allowed: true });
    return this.forward(method, params ?? {});
  }

  /**
   * Relays environment events to the module: of environment `id` from after `since`, or of every
   * environment live. The shell's one shared stream carries them (no connection per watch); after
   * each (re)open of that stream, what the watch missed is read from the history and events are
   * delivered once each, in seq order per environment. SECURITY: the stream is the shell's, with
   * its session; the module gets only the events (the records `environments.get` shows), and
   * only while it holds the capability that `environments.watch` was checked against.
   */
  private startWatch(id: string | undefined, since: number): void {
    // The window may have closed while `environments.watch` waited for the daemon.
    if (this.isDisposed) return;
    // The old watch leaves only after the new one joined, so the shared stream stays open.
    const previous = this.watch;
    const t = this.options.transport;
    /** Last seq delivered per environment. */
    const last = new Map<string, number>();
    if (id !== undefined) last.set(id, since);
    let isActive = true;
    let refills = 0;
    let held: HubEvent[] | undefined;
    const deliver = (e: HubEvent): void => {
      if (!isActive) return;
      if (typeof e.seq === 'number') {
        const prev = last.get(e.envId);
        if (prev !== undefined && e.seq <= prev) return;
        last.set(e.envId, e.seq);
      }
      this.emit?.(ENV_EVENT, e);
    };
    // Reads the history after the last delivered seq of each environment this watch knows;
    // live events wait meanwhile, so none overtakes the history it follows.
    const refill = async (): Promise<void> => {
      const ids = id !== undefined ? [id] : [...last.keys()];
      if (ids.length === 0) return;
      refills += 1;
      held ??= [];
      try {
        for (const envId of ids) {
          const r = await t.json<{ events?: unknown }>(
            'GET',
            `/api/environments/${enc(envId)}/events?since=${last.get(envId) ?? 0}`,
          );
          if (!isActive) return;
          const events = Array.isArray(r?.events) ? (r.events as HubEvent[]) : [];
          for (const e of events) if (e && e.envId === envId) deliver(e);
        }
      } catch {
        // History unreadable now (e.g. locking): live events go on; the next open refills.
      } finally {
        refills -= 1;
        if (refills === 0) {
          const waiting = held ?? [];
          held = undefined;
          for (const e of waiting) deliver(e);
        }
      }
    };
    const w = {
      dispose: () => {
        isActive = false;
        sub.dispose();
      },
    };
    // Set before subscribing: a closed hub ends the new watch at once (onEnd below).
    this.watch = w;
    const sub = this.options.events.subscribe({
      ...(id !== undefined && { envId: id }),
      onEvent: (e) => {
        if (held) held.push(e);
        else deliver(e);
      },
      onOpen: () => void refill(),
      onEnd: (end) => {
        if (this.watch !== w) return;
        this.watch = undefined;
        isActive = false;
        this.emit?.(ENV_WATCH_END, end.kind === 'refused' ? `refused: ${end.code}` : end.kind);
      },
    });
    previous?.dispose();
  }

  private parse<T>(schema: z.ZodType<T>, params: unknown, method: string): T {
    const r = schema.safeParse(params);
    if (!r.success) {
      const first = r.error.issues[0];
      throw new RpcError(
        BrokerErrorCodes.badParams,
        `Bad parameters for ${method}${first ? `: ${first.path.join('.') || '/'} ${first.message}` : ''}.`,
      );
    }
    return r.data;
  }

  private async forward(method: MethodName, params: unknown): Promise<unknown> {
    const t = this.options.transport;
    const p = <T>(schema: z.ZodType<T>): T => this.parse(schema, params, method);
    switch (method) {
      case 'notes.list':
        p(Empty);
        return t.json('GET', '/api/notes');
      case 'notes.get':
        return t.json('GET', `/api/notes/${enc(p(ById).id)}`);
      case 'notes.revisions':
        return t.json('GET', `/api/notes/${enc(p(ById).id)}/revisions`);
      case 'notes.create':
        return t.json(
          'POST',
          '/api/notes',
          p(
            z
              .object({
                title: NoteFields.title,
                body: NoteFields.body.optional(),
                tags: Tags.optional(),
              })
              .strict(),
          ),
        );
      case 'notes.update': {
        const { id, ...patch } = p(
          z
            .object({
              id: Id,
              title: NoteFields.title.optional(),
              body: NoteFields.body.optional(),
              tags: Tags.optional(),
            })
            .strict(),
        );
        return t.json('PATCH', `/api/notes/${enc(id)}`, patch);
      }
      case 'notes.remove':
        return t.json('DELETE', `/api/notes/${enc(p(ById).id)}`);
      case 'files.list':
        p(Empty);
        return t.json('GET', '/api/files');
      case 'files.read':
        return t.bytes(`/api/files/${enc(p(ById).id)}/content`);
      case 'files.put': {
        const f = p(
          z
            .object({ name: z.string().min(1).max(255), data: Buffer, mime: Mime.optional() })
            .strict(),
        );
        const q = `name=${enc(f.name)}${f.mime ? `&mime=${enc(f.mime)}` : ''}`;
        return t.upload(`/api/files?${q}`, f.data);
      }
      case 'files.remove':
        return t.json('DELETE', `/api/files/${enc(p(ById).id)}`);
      case 'search.query': {
        const s = p(
          z.object({ q: z.string().max(500), limit: z.number().int().min(1).max(100).optional() }),
        );
        return t.json('GET', `/api/search?q=${enc(s.q)}${s.limit ? `&limit=${s.limit}` : ''}`);
      }
      case 'settings.list':
        p(Empty);
        return t.json('GET', '/api/settings');
      case 'settings.get': {
        const r = await t.json<{ value: unknown }>(
          'GET',
          `/api/settings/${enc(p(z.object({ key: Key }).strict()).key)}`,
        );
        return r.value;
      }
      case 'settings.set': {
        const s = p(z.object({ key: Key, value: z.unknown() }).strict());
        return t.json('PUT', `/api/settings/${enc(s.key)}`, { value: s.value ?? null });
      }
      case 'audit.list': {
        const a = p(z.object({ limit: z.number().int().min(1).max(1000).optional() }).strict());
        return t.json('GET', `/api/audit${a.limit ? `?limit=${a.limit}` : ''}`);
      }
      case 'security.status':
        p(Empty);
        return t.json('GET', '/api/security/status');
      case 'security.lock':
        p(Empty);
        if (this.options.hooks?.lock) return this.options.hooks.lock();
        return t.json('DELETE', '/api/session');
      case 'environments.compose':
        return t.json(
          'POST',
          '/api/compose',
          p(
            z
              .object({ request: z.string().min(1).max(8192), base: z.unknown() })
              .partial({ base: true })
              .strict(),
          ),
        );
      case 'environments.create':
        return t.json(
          'POST',
          '/api/environments',
          p(
            z.union([
              z
                .object({
                  request: z.string().min(1).max(8192),
                  name: z.string().max(63).optional(),
                })
                .strict(),
              z
                .object({
                  spec: z.record(z.string(), z.unknown()),
                  name: z.string().max(63).optional(),
                })
                .strict(),
            ]),
          ),
        );
      case 'environments.list':
        p(Empty);
        return t.json('GET', '/api/environments');
      case 'environments.get':
        return t.json('GET', `/api/environments/${enc(p(ById).id)}`);
      case 'environments.suspend':
        return t.json('POST', `/api/environments/${enc(p(ById).id)}/suspend`);
      case 'environments.resume':
        return t.json('POST', `/api/environments/${enc(p(ById).id)}/resume`);
      case 'environments.terminate':
        return t.json('DELETE', `/api/environments/${enc(p(ById).id)}`);
      case 'environments.events': {
        const e = p(z.object({ id: Id, since: z.number().int().min(0).optional() }).strict());
        return t.json(
          'GET',
          `/api/environments/${enc(e.id)}/events${e.since !== undefined ? `?since=${e.since}` : ''}`,
        );
      }
      case 'environments.watch': {
        const w = p(
          z.object({ id: Id.optional(), since: z.number().int().min(0).optional() }).strict(),
        );
        // An unknown id answers not_found here, before any stream starts.
        if (w.id !== undefined) await t.json('GET', `/api/environments/${enc(w.id)}`);
        this.startWatch(w.id, w.since ?? 0);
        return undefined;
      }
      case 'environments.unwatch':
        p(Empty);
        this.watch?.dispose();
        this.watch = undefined;
        return undefined;
      case 'shell.openEnvironment': {
        const id = p(ById).id;
        const open = this.options.hooks?.openEnvironment;
        if (!open)
          throw new RpcError(BrokerErrorCodes.unavailable, 'This shell cannot open windows.');
        // Unknown ids answer the daemon's not_found to the module before the shell opens anything.
        await t.json('GET', `/api/environments/${enc(id)}`);
        await open(id);
        return undefined;
      }
      case 'ai.summarize':
        throw new RpcError(
          BrokerErrorCodes.unavailable,
          'The local AI engine is not part of this VirtOS yet.',
          'Summaries come with the AI engine (issue: local AI).',
        );
      case 'storage.get': {
        const k = p(z.object({ key: Key }).strict()).key;
        // SECURITY: the module id comes from the broker, never from the module's parameters, so
        // a module reads and writes only its own records.
        const r = await t.json<{ value: unknown }>(
          'GET',
          `/api/modules/${enc(this.options.moduleId)}/data/${enc(k)}`,
        );
        return r.value;
      }
      case 'storage.set': {
        const s = p(z.object({ key: Key, value: z.unknown() }).strict());
        return t.json('PUT', `/api/modules/${enc(this.options.moduleId)}/data/${enc(s.key)}`, {
          value: s.value ?? null,
        });
      }
      case 'shell.download': {
        const d = p(
          z
            .object({ name: z.string().min(1).max(255), data: Buffer, mime: Mime.optional() })
            .strict(),
        );
        if (!this.options.hooks?.download) {
          throw new RpcError(BrokerErrorCodes.unavailable, 'This shell cannot save downloads.');
        }
        this.options.hooks.download(d.name, d.data, d.mime ?? 'application/octet-stream');
        return undefined;
      }
    }
  }
}
