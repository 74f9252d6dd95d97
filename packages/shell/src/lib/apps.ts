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

/** Opens an app's window (or focuses it when it is open already). */
export function launch(appId: string): WindowHandle | undefined {
  const open = windowManager.list().find((w) => w.appId === appId);
  if (open) {
    windowManager.focus(open.id);
    return windowManager.handle(open.id);
  }
  const entry = apps.get().find((a) => a.id === appId);
  return entry ? windowManager.open(appId, entry.open()) : undefined;
}

/**
 * Opens a window whose content is a module (the module host mounts its sandboxed iframe through
 * `opts.mount`). The window's app id is `module:<moduleId>`, so its place is saved in the layout.
 */
export function openModuleWindow(moduleId: string, opts: OpenOptions): WindowHandle {
  return windowManager.open(`module:${moduleId}`, opts);
}

/** Resolves a saved window's app id (layout restore). */
export function resolveApp(appId: string): OpenOptions | undefined {
  return apps
    .get()
    .find((a) => a.id === appId)
    ?.open();
}
