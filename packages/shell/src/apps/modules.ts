/**
 * Installed modules in the desktop: one launcher entry per enabled module, whose window mounts the
 * module's sandboxed frame through the Module Manager client and its broker. The broker's hooks
 * are the shell's own actions: lock (the full `lockNow` wipe), downloads, environment windows.
 */
import { RpcError } from '@virtos/module-sdk';
import { api } from '../lib/api.js';
import { apps, registerApp } from '../lib/apps.js';
import { environmentEvents } from '../lib/environment-events.js';
import { lockNow } from '../lib/session.js';
import { Store } from '../lib/store.js';
import { windowManager, type OpenOptions } from '../lib/window-manager.js';
import {
  downloadInShell,
  ModuleManager,
  type InstalledModule,
  type MountedModule,
} from '../modules/index.js';
import { openEnvironmentWindow } from './environments.js';

/**
 * The shell's one Module Manager client (the session header comes from the API client; module
 * watches share the shell's one event stream with the environment windows).
 */
export const moduleManager = new ModuleManager(
  api,
  {
    lock: () => lockNow('user'),
    download: downloadInShell,
    openEnvironment: (id) => {
      if (!openEnvironmentWindow(id)) {
        throw new RpcError('module.bad_params', `Environment ${id} cannot have a window.`);
      }
    },
  },
  { events: environmentEvents },
);

/** The installed modules as last listed (the Module Manager window shows them). */
export const installedModules = new Store<readonly InstalledModule[]>([]);

const ICONS: Readonly<Record<string, string>> = {
  notes: '✎',
  files: '▤',
  search: '⌕',
  security: '⛨',
  settings: '⚙',
  environments: '▣',
};

/** The window of module `id`: its sandboxed frame, and the embedded keyboard forwarded to it. */
function moduleWindow(id: string, name: string): OpenOptions {
  let mounted: MountedModule | undefined;
  return {
    title: name,
    w: id === 'environments' ? 760 : 720,
    h: id === 'environments' ? 620 : 520,
    mount: (el) => {
      let isClosed = false;
      moduleManager
        .open(el, id, {
          onViolation: (reason) => showProblem(el, `Module ${name} was stopped: ${reason}`),
        })
        .then(
          (m) => {
            if (isClosed) m.dispose();
            else mounted = m;
          },
          (e: unknown) => {
            if (!isClosed) showProblem(el, `Module ${name} cannot be opened: ${messageOf(e)}`);
          },
        );
      return () => {
        isClosed = true;
        mounted?.dispose();
        mounted = undefined;
      };
    },
    onKeyboard: (key) => mounted?.sendKey(key),
  };
}

function messageOf(e: unknown): string {
  if (e instanceof RpcError) return `${e.message}${e.hint ? ` ${e.hint}` : ''}`;
  return e instanceof Error ? e.message : String(e);
}

function showProblem(el: HTMLElement, text: string): void {
  const p = document.createElement('p');
  p.className = 'module-problem';
  p.dataset['testid'] = 'module-problem';
  p.setAttribute('role', 'alert');
  p.style.cssText = 'margin:16px;color:#f7768e';
  p.textContent = text;
  el.replaceChildren(p);
}

/**
 * Reads the installed modules and makes the launcher match: an entry per enabled module; the
 * entries and open windows of disabled or removed modules go away.
 */
export async function refreshModuleApps(): Promise<readonly InstalledModule[]> {
  const list = await moduleManager.list();
  installedModules.set(list);
  const enabled = new Set(list.filter((m) => m.enabled).map((m) => `module:${m.manifest.id}`));
  for (const a of apps.get()) {
    if (a.id.startsWith('module:') && !enabled.has(a.id)) {
      apps.update((l) => l.filter((x) => x.id !== a.id));
    }
  }
  for (const w of windowManager.list()) {
    if (w.appId.startsWith('module:') && !enabled.has(w.appId)) windowManager.close(w.id);
  }
  for (const m of list) {
    if (!m.enabled) continue;
    const { id, name } = m.manifest;
    registerApp({
      id: `module:${id}`,
      name,
      icon: ICONS[id] ?? name.slice(0, 1).toUpperCase(),
      open: () => moduleWindow(id, name),
    });
  }
  return list;
}
