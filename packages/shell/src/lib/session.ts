/**
 * The shell's session: which screen shows (first run, lock screen, desktop), locking (on demand and
 * on idle), the preferences kept in the vault, and the privacy blur.
 */
import { api } from './api.js';
import { Store } from './store.js';
import { windowManager } from './window-manager.js';

/** The screen the shell shows. */
export type Phase = 'loading' | 'first-run' | 'locked' | 'desktop' | 'error';

/** User preferences (stored in the vault as the `prefs` setting). */
export interface Prefs {
  /** Lock after this many minutes without input (0 = never; the daemon still locks at its own). */
  readonly idleMinutes: number;
  /** Blur the desktop when the page is hidden or loses focus. */
  readonly isCaptureProtected: boolean;
  /** Shuffle the embedded keyboard's keys for secrets. */
  readonly isKeyboardRandomised: boolean;
}

export const DEFAULT_PREFS: Prefs = {
  idleMinutes: 5,
  isCaptureProtected: true,
  isKeyboardRandomised: false,
};

export const phase = new Store<Phase>('loading');
export const prefs = new Store<Prefs>(DEFAULT_PREFS);
/** True while the privacy blur covers the page. */
export const isBlurred = new Store<boolean>(false);

/** Merges a stored value over the defaults, ignoring unknown or mistyped fields. */
export function parsePrefs(v: unknown): Prefs {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const num = o['idleMinutes'];
  return {
    idleMinutes:
      typeof num === 'number' && Number.isFinite(num) && num >= 0 && num <= 240
        ? num
        : DEFAULT_PREFS.idleMinutes,
    isCaptureProtected:
      typeof o['isCaptureProtected'] === 'boolean'
        ? o['isCaptureProtected']
        : DEFAULT_PREFS.isCaptureProtected,
    isKeyboardRandomised:
      typeof o['isKeyboardRandomised'] === 'boolean'
        ? o['isKeyboardRandomised']
        : DEFAULT_PREFS.isKeyboardRandomised,
  };
}

/** Saves preferences to the vault. */
export async function savePrefs(p: Prefs): Promise<void> {
  prefs.set(p);
  await api.putSetting('prefs', p);
}

let isLocking = false;
const lockHooks = new Set<() => void>();

/**
 * Runs `fn` when the shell locks, after window contents closed and before the daemon is told
 * (parts loaded after unlock, such as the event hub, register here). Returns an unregister.
 */
export function onWillLock(fn: () => void): () => void {
  lockHooks.add(fn);
  return () => lockHooks.delete(fn);
}

/**
 * Locks: every window's content is closed (module iframes removed), the daemon locks the vault and
 * revokes every token, then the page reloads, which drops the token and every in-memory store.
 */
export async function lockNow(reason: 'user' | 'idle' = 'user'): Promise<void> {
  if (isLocking) return;
  isLocking = true;
  // SECURITY: content first, so no module keeps showing or holding data while the lock completes.
  windowManager.closeAll();
  for (const fn of [...lockHooks]) {
    try {
      fn();
    } catch {
      // A hook's failure must not stop the lock.
    }
  }
  try {
    await api.lock();
  } catch {
    // The daemon may have locked already (its own idle timer); we wipe regardless.
  }
  // SECURITY: drop everything client-side: the token (held only in memory), the stores, and any
  // cached page state; a full reload guarantees nothing survives in JS memory.
  api.forget();
  try {
    sessionStorage.clear();
  } catch {
    // Storage may be unavailable (private mode); nothing of ours is in it anyway.
  }
  phase.set('locked');
  if (reason === 'idle' || reason === 'user') location.reload();
}

/** Starts the idle lock; returns a function that stops it. */
export function startIdleLock(): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (timer) clearTimeout(timer);
    const m = prefs.get().idleMinutes;
    if (m > 0) timer = setTimeout(() => void lockNow('idle'), m * 60_000);
  };
  const events = ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const;
  for (const e of events) window.addEventListener(e, arm, { passive: true, capture: true });
  const unsub = prefs.subscribe(arm);
  return () => {
    if (timer) clearTimeout(timer);
    unsub();
    for (const e of events) window.removeEventListener(e, arm, { capture: true });
  };
}

/**
 * Screen-capture protection for browsers (which offer no FLAG_SECURE): blur the page while it is
 * hidden or not focused, when the preference is on. Returns a function that stops it.
 */
export function startPrivacyBlur(): () => void {
  const update = () => {
    const on = prefs.get().isCaptureProtected;
    // SECURITY: app switchers and screen sharing of other windows catch the page while it is
    // hidden or unfocused; the blur overlay hides window content then.
    isBlurred.set(on && (document.visibilityState === 'hidden' || !document.hasFocus()));
  };
  const events: [EventTarget, string][] = [
    [document, 'visibilitychange'],
    [window, 'blur'],
    [window, 'focus'],
  ];
  for (const [t, e] of events) t.addEventListener(e, update);
  const unsub = prefs.subscribe(update);
  return () => {
    unsub();
    for (const [t, e] of events) t.removeEventListener(e, update);
  };
}
