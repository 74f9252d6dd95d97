/**
 * The Module Manager's client side: list, catalog, install (with the grants the user ticked),
 * enable, disable, remove, and open a module into an element (ticket -> broker -> sandboxed frame).
 */
import type { Capability, ModuleManifest } from '@virtos/module-sdk';
import { EventHub, type EnvironmentEventFeed } from '../lib/event-hub.js';
import { ModuleBroker, type BrokerDecision, type BrokerHooks } from './broker.js';
import { fetchTransport, type DaemonTransport, type SessionHeaders } from './daemon-transport.js';
import { mountModule, type MountedModule } from './host.js';
import { validateManifest } from './manifest.js';

/** An installed module as GET /api/modules lists it. */
export interface InstalledModule {
  readonly manifest: ModuleManifest;
  readonly enabled: boolean;
  readonly grants: readonly Capability[];
  readonly installedAt: number;
  readonly source: 'builtin' | 'package';
}

/** A module package a user installs from a file: manifest + bundled script (+ style). */
export interface ModulePackage {
  readonly manifest: unknown;
  readonly script: string;
  readonly style?: string;
}

/** Options of {@link ModuleManager}. */
export interface ModuleManagerOptions {
  /** Default: fetch to the daemon that served the page, with the session header. */
  readonly transport?: DaemonTransport;
  /**
   * The shell's shared environment event stream, so module watches add no connection. Default:
   * a hub of this manager's own over the transport (one stream for all its modules).
   */
  readonly events?: EnvironmentEventFeed;
}

/** Talks to the daemon's module routes. One per shell. */
export class ModuleManager {
  private readonly t: DaemonTransport;
  private readonly events: EnvironmentEventFeed;

  constructor(
    session: SessionHeaders,
    private readonly hooks: BrokerHooks = {},
    options: ModuleManagerOptions = {},
  ) {
    const t = options.transport ?? fetchTransport(session);
    this.t = t;
    this.events =
      options.events ??
      new EventHub({
        follow: (path, onMessage, signal, onOpen) => t.follow(path, onMessage, signal, onOpen),
      });
  }

  list(): Promise<InstalledModule[]> {
    return this.t.json('GET', '/api/modules');
  }

  catalog(): Promise<{ manifest: ModuleManifest; installed: boolean }[]> {
    return this.t.json('GET', '/api/modules/catalog');
  }

  /** Installs a built-in module with `grants` (a subset of what it requests). */
  installBuiltin(id: string, grants: readonly Capability[]): Promise<InstalledModule> {
    return this.t.json('POST', '/api/modules', { builtin: id, grants });
  }

  /** Installs a package after checking its manifest here first (the daemon checks again). */
  installPackage(pkg: ModulePackage, grants: readonly Capability[]): Promise<InstalledModule> {
    const v = validateManifest(pkg.manifest);
    if (!v.ok) {
      return Promise.reject(new Error(`Invalid module manifest: ${v.problems.join('; ')}`));
    }
    return this.t.json('POST', '/api/modules', { package: pkg, grants });
  }

  setEnabled(id: string, enabled: boolean): Promise<InstalledModule> {
    return this.t.json('PATCH', `/api/modules/${encodeURIComponent(id)}`, { enabled });
  }

  setGrants(id: string, grants: readonly Capability[]): Promise<InstalledModule> {
    return this.t.json('PATCH', `/api/modules/${encodeURIComponent(id)}`, { grants });
  }

  remove(id: string): Promise<void> {
    return this.t.json('DELETE', `/api/modules/${encodeURIComponent(id)}`);
  }

  /**
   * Opens an installed, enabled module inside `container`. The grants are read fresh from the
   * daemon, so a change in the Module Manager applies to the next open.
   */
  async open(
    container: HTMLElement,
    id: string,
    opts: { onDecision?: (d: BrokerDecision) => void; onViolation?: (r: string) => void } = {},
  ): Promise<MountedModule> {
    const mod = (await this.list()).find((m) => m.manifest.id === id);
    if (!mod) throw new Error(`Module ${id} is not installed.`);
    const { url } = await this.t.json<{ url: string }>(
      'POST',
      `/api/modules/${encodeURIComponent(id)}/frame`,
    );
    const broker = new ModuleBroker({
      moduleId: id,
      grants: mod.grants,
      transport: this.t,
      events: this.events,
      hooks: this.hooks,
      ...(opts.onDecision && { onDecision: opts.onDecision }),
    });
    return mountModule(container, {
      frameUrl: url,
      broker,
      ...(opts.onViolation && { onViolation: opts.onViolation }),
    });
  }
}

/** Saves bytes as a download from the shell's own document. */
export function downloadInShell(name: string, data: ArrayBuffer, mime: string): void {
  // SECURITY: the blob gets a neutral type when the stored one could render as active content
  // in the shell's origin; the anchor only downloads, it never navigates.
  const safeMime = /^(text\/html|image\/svg|application\/xhtml|text\/xml|application\/xml)/i.test(
    mime,
  )
    ? 'application/octet-stream'
    : mime;
  const url = URL.createObjectURL(new Blob([data], { type: safeMime }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
