/**
 * @module @virtos/shell
 * The App Shell: the VirtOS desktop in the browser (Svelte 5 + Vite). First run, lock screen,
 * desktop with a window manager, the embedded keyboard, locking, the canary alert. This entry lists
 * what other parts of the shell (the module host in src/modules/) build on: the API client with
 * the session, the window manager and `openModuleWindow`, the launcher registry, the keyboard.
 */
export { ApiClient, ApiError, api } from './lib/api.js';
export type { CanaryStatus, Health, TokenReply } from './lib/api.js';
export { WindowManager, windowManager, MIN_H, MIN_W } from './lib/window-manager.js';
export type {
  MountContent,
  OpenOptions,
  SavedLayout,
  SavedWindow,
  Snap,
  Viewport,
  WindowHandle,
  WindowState,
} from './lib/window-manager.js';
export { apps, launch, openModuleWindow, registerApp } from './lib/apps.js';
export type { AppEntry } from './lib/apps.js';
export { cryptoRandomInt, keyLabel, keyName, layout } from './lib/keyboard.js';
export type { KeyboardKey, KeyboardPage, RandomInt } from './lib/keyboard.js';
export { lockNow, phase, prefs } from './lib/session.js';
export type { Phase, Prefs } from './lib/session.js';
export { Store } from './lib/store.js';
export type { Readable } from './lib/store.js';
