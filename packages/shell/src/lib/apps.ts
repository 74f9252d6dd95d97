/**
 * The launcher's apps: the shell's built-in ones and those the module host registers. An app is
 * an id, a name and a function that gives the options to open its window; the same function
 * reopens the app's windows from a saved layout.
 */
import { Store } from './store.js';
import { windowManager, type OpenOptions, type WindowHandle } from './window-manager.js';

/** One launcher entry. */
export interface AppEntry {
  /** `shell:<name>` for built-ins, `module:<moduleId>` for modules. */
  readonly id: string;
  readonly name: string;
  /** One or two characters (or an emoji) shown as the icon. */
  readonly icon: string;
  readonly open: () => OpenOptions;
}

/** The launcher's entries, in order. */
export const apps = new Store<readonly AppEntry[]>([]);

/** Adds (or replaces) a launcher entry; returns a function that removes it. */
export function registerApp(entry: AppEntry): () => void {
  apps.update((list) => [...list.filter((a) => a.id !== entry.id), entry]);
  return () => apps.update((list) => list.filter((a) => a.id !== entry.id));
}

/**
 * Window kinds whose app ids carry a parameter (`env:<environment id>`): the prefix with the
 * colon, and a function from the parameter to the window's options (undefined: cannot open).
 */
const kinds = new Map<string, (param: string) => OpenOptions | undefined>();

/** Registers a window kind such as `env:`; returns a function that removes it. */
export function registerAppKind(
  prefix: string,
  resolve: (param: string) => OpenOptions | undefined,
): () => void {
  kinds.set(prefix, resolve);
  return () => kinds.delete(prefix);
}

function optionsOf(appId: string): OpenOptions | undefined {
  const entry = apps.get().find((a) => a.id === appId);
  if (entry) return entry.open();
  for (const [prefix, resolve] of kinds) {
    if (appId.startsWith(prefix) && appId.length > prefix.length) {
      return resolve(appId.slice(prefix.length));
    }
  }
  return undefined;
}

/** Opens an app's window (or focuses it when it is open already). */
export function launch(appId: string): WindowHandle | undefined {
  const open = windowManager.list().find((w) => w.appId === appId);
  if (open) {
    windowManager.focus(open.id);
    return windowManager.handle(open.id);
  }
  const opts = optionsOf(appId);
  return opts ? windowManager.open(appId, opts) : undefined;
}

/**
 * Opens a window whose content is a module (the module host mounts its sandboxed iframe through
 * `opts.mount`). The window's app id is `module:<moduleId>`, so its place is saved in the layout.
 */
export function openModuleWindow(moduleId: string, opts: OpenOptions): WindowHandle {
  return windowManager.open(`module:${moduleId}`, opts);
}

/** Resolves a saved window's app id (layout restore), launcher entries and window kinds. */
export function resolveApp(appId: string): OpenOptions | undefined {
  return optionsOf(appId);
}
