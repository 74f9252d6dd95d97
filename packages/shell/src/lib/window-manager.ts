/**
 * The window manager's state: windows with position, size, z-order, minimised/maximised/snapped
 * state, and the layout that is saved in the vault. No DOM here: the Desktop component draws the
 * windows and calls these operations; tests drive them directly.
 *
 * A window's content is a mount function: it gets the window's content element and returns a
 * cleanup. Module windows (the module host in src/modules/) mount their sandboxed iframe this way;
 * locking calls every cleanup before the page is reloaded.
 */
import { Store, type Readable } from './store.js';

/** Snapped to the left or right half of the desktop. */
export type Snap = 'left' | 'right';

/** Mounts a window's content into `el`; returns a cleanup, called when the window closes. */
export type MountContent = (el: HTMLElement, win: WindowHandle) => void | (() => void);

/** What the shell knows about one window. Pixels, relative to the desktop area. */
export interface WindowState {
  readonly id: string;
  /** What the window shows: a built-in app id (`shell:settings`) or `module:<moduleId>`. */
  readonly appId: string;
  readonly title: string;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  /** Stacking order: higher is in front. */
  readonly z: number;
  readonly isMinimised: boolean;
  readonly isMaximised: boolean;
  readonly snap: Snap | null;
  /** True when the window asked for the embedded keyboard (it is shown inside the window). */
  readonly hasKeyboard: boolean;
  readonly isKeyboardOpen: boolean;
}

/** Options to open a window. */
export interface OpenOptions {
  readonly title: string;
  readonly x?: number;
  readonly y?: number;
  readonly w?: number;
  readonly h?: number;
  readonly mount?: MountContent;
  /**
   * Receives the embedded keyboard's keys for this window (e.g. forwarded to a module iframe by
   * postMessage). When set, the window's title bar gets a keyboard button.
   */
  readonly onKeyboard?: (key: string) => void;
}

/** A handle on one open window, returned by {@link WindowManager.open}. */
export interface WindowHandle {
  readonly id: string;
  close(): void;
  focus(): void;
  setTitle(title: string): void;
}

/** The part of a window's state that survives sessions (stored in the vault). */
export interface SavedWindow {
  readonly appId: string;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly isMinimised: boolean;
  readonly isMaximised: boolean;
  readonly snap: Snap | null;
}

/** The saved layout: windows back to front. */
export interface SavedLayout {
  readonly version: 1;
  readonly windows: readonly SavedWindow[];
}

/** Desktop area size in px (the window manager clamps windows into it). */
export interface Viewport {
  readonly width: number;
  readonly height: number;
}

/** Smallest window, px. */
export const MIN_W = 220;
export const MIN_H = 140;

/** Windows, z-order and the operations of the window manager. */
export class WindowManager {
  private readonly store = new Store<readonly WindowState[]>([]);
  private readonly mounts = new Map<string, MountContent | undefined>();
  private readonly cleanups = new Map<string, () => void>();
  private readonly keyboards = new Map<string, (key: string) => void>();
  private nextId = 1;
  private topZ = 0;
  private readonly changeListeners = new Set<() => void>();

  /** Windows in opening order (draw order is `z`). */
  readonly windows: Readable<readonly WindowState[]> = this.store;

  constructor(public viewport: Viewport = { width: 1280, height: 720 }) {}

  /** The current windows. */
  list(): readonly WindowState[] {
    return this.store.get();
  }

  /** Called after every change of the layout (the desktop saves it, debounced). */
  onDidChangeLayout(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** Opens a window in front, cascading from the last one unless a position is given. */
  open(appId: string, opts: OpenOptions): WindowHandle {
    const id = `w${this.nextId++}`;
    const n = this.list().length;
    const w = Math.min(opts.w ?? 640, this.viewport.width);
    const h = Math.min(opts.h ?? 440, this.viewport.height);
    const win: WindowState = {
      id,
      appId,
      title: opts.title,
      ...this.clampRect(opts.x ?? 40 + (n % 8) * 28, opts.y ?? 30 + (n % 8) * 28, w, h),
      z: ++this.topZ,
      isMinimised: false,
      isMaximised: false,
      snap: null,
      hasKeyboard: opts.onKeyboard !== undefined,
      isKeyboardOpen: false,
    };
    this.mounts.set(id, opts.mount);
    if (opts.onKeyboard) this.keyboards.set(id, opts.onKeyboard);
    this.store.update((ws) => [...ws, win]);
    this.changed();
    return this.handle(id);
  }

  /** A handle for an open window. */
  handle(id: string): WindowHandle {
    return {
      id,
      close: () => this.close(id),
      focus: () => this.focus(id),
      setTitle: (title) => this.patch(id, { title }, false),
    };
  }

  /** Mounts the content of window `id` into `el` (called by the Window component once). */
  mountContent(id: string, el: HTMLElement): void {
    const m = this.mounts.get(id);
    if (!m || this.cleanups.has(id)) return;
    const cleanup = m(el, this.handle(id));
    if (typeof cleanup === 'function') this.cleanups.set(id, cleanup);
  }

  /** Sends a key of the embedded keyboard to window `id`'s content. */
  sendKey(id: string, key: string): void {
    this.keyboards.get(id)?.(key);
  }

  close(id: string): void {
    this.runCleanup(id);
    this.mounts.delete(id);
    this.keyboards.delete(id);
    this.store.update((ws) => ws.filter((w) => w.id !== id));
    this.changed();
  }

  /** Closes every window, running every content cleanup (lock). */
  closeAll(): void {
    for (const w of this.list()) this.runCleanup(w.id);
    this.mounts.clear();
    this.keyboards.clear();
    this.store.set([]);
  }

  /** Brings a window to the front (and back from minimised). */
  focus(id: string): void {
    const w = this.get(id);
    if (!w) return;
    if (w.z === this.topZ && !w.isMinimised) return;
    this.patch(id, { z: ++this.topZ, isMinimised: false });
  }

  /** The window in front that is not minimised. */
  focused(): WindowState | undefined {
    return this.list()
      .filter((w) => !w.isMinimised)
      .sort((a, b) => b.z - a.z)[0];
  }

  /** Moves a window (drag); leaves maximised/snapped state. */
  move(id: string, x: number, y: number): void {
    const w = this.get(id);
    if (!w) return;
    this.patch(id, { ...this.clampRect(x, y, w.w, w.h), isMaximised: false, snap: null });
  }

  /** Resizes a window from its bottom-right corner. */
  resize(id: string, width: number, height: number): void {
    const w = this.get(id);
    if (!w) return;
    const nw = Math.max(MIN_W, Math.min(width, this.viewport.width - w.x));
    const nh = Math.max(MIN_H, Math.min(height, this.viewport.height - w.y));
    this.patch(id, { w: nw, h: nh, isMaximised: false, snap: null });
  }

  minimise(id: string): void {
    this.patch(id, { isMinimised: true });
  }

  toggleMaximise(id: string): void {
    const w = this.get(id);
    if (w) this.patch(id, { isMaximised: !w.isMaximised, snap: null, z: ++this.topZ });
  }

  /** Snaps to a half of the desktop; snapping to the same half again restores. */
  snap(id: string, side: Snap): void {
    const w = this.get(id);
    if (w)
      this.patch(id, { snap: w.snap === side ? null : side, isMaximised: false, z: ++this.topZ });
  }

  toggleKeyboard(id: string): void {
    const w = this.get(id);
    if (w?.hasKeyboard) this.patch(id, { isKeyboardOpen: !w.isKeyboardOpen }, false);
  }

  /** Focuses the next window (Alt+Tab-like cycling). */
  cycle(): void {
    const ws = [...this.list()].sort((a, b) => a.z - b.z);
    const first = ws[0];
    if (ws.length > 1 && first) this.focus(first.id);
  }

  /** The on-screen rectangle, taking maximise and snap into account. */
  rect(w: WindowState): { x: number; y: number; w: number; h: number } {
    const { width, height } = this.viewport;
    if (w.isMaximised) return { x: 0, y: 0, w: width, h: height };
    if (w.snap === 'left') return { x: 0, y: 0, w: Math.floor(width / 2), h: height };
    if (w.snap === 'right') {
      const half = Math.floor(width / 2);
      return { x: half, y: 0, w: width - half, h: height };
    }
    return { x: w.x, y: w.y, w: w.w, h: w.h };
  }

  /** Sets a new viewport (window resize, rotation) and pulls windows back into it. */
  setViewport(v: Viewport): void {
    this.viewport = v;
    this.store.update((ws) =>
      ws.map((w) => ({
        ...w,
        ...this.clampRect(w.x, w.y, Math.min(w.w, v.width), Math.min(w.h, v.height)),
      })),
    );
  }

  /** The layout to save: windows back to front. */
  layout(): SavedLayout {
    return {
      version: 1,
      windows: [...this.list()]
        .sort((a, b) => a.z - b.z)
        .map(({ appId, x, y, w, h, isMinimised, isMaximised, snap }) => ({
          appId,
          x,
          y,
          w,
          h,
          isMinimised,
          isMaximised,
          snap,
        })),
    };
  }

  /**
   * Reopens a saved layout. `resolve` turns an app id into open options (title, mount), or
   * undefined for apps that no longer exist (they are skipped).
   */
  restore(saved: unknown, resolve: (appId: string) => OpenOptions | undefined): number {
    if (!isSavedLayout(saved)) return 0;
    let n = 0;
    for (const s of saved.windows) {
      const o = resolve(s.appId);
      if (!o) continue;
      const h = this.open(s.appId, { ...o, x: s.x, y: s.y, w: s.w, h: s.h });
      this.patch(
        h.id,
        { isMinimised: s.isMinimised, isMaximised: s.isMaximised, snap: s.snap },
        false,
      );
      n++;
    }
    return n;
  }

  private get(id: string): WindowState | undefined {
    return this.list().find((w) => w.id === id);
  }

  private patch(id: string, p: Partial<WindowState>, notify = true): void {
    this.store.update((ws) => ws.map((w) => (w.id === id ? { ...w, ...p } : w)));
    if (notify) this.changed();
  }

  private clampRect(x: number, y: number, w: number, h: number) {
    const { width, height } = this.viewport;
    const cw = Math.max(Math.min(MIN_W, width), Math.min(w, width));
    const ch = Math.max(Math.min(MIN_H, height), Math.min(h, height));
    // Keep the title bar reachable: at least 60 px of the window stays inside horizontally.
    const cx = Math.round(Math.min(Math.max(x, 60 - cw), width - 60));
    const cy = Math.round(Math.min(Math.max(y, 0), height - 32));
    return { x: cx, y: cy, w: Math.round(cw), h: Math.round(ch) };
  }

  private runCleanup(id: string): void {
    const c = this.cleanups.get(id);
    this.cleanups.delete(id);
    try {
      c?.();
    } catch {
      // A module's cleanup failing must not keep the window (or a lock) from completing.
    }
  }

  private changed(): void {
    for (const l of this.changeListeners) l();
  }
}

function isSavedLayout(v: unknown): v is SavedLayout {
  if (typeof v !== 'object' || v === null) return false;
  const l = v as { version?: unknown; windows?: unknown };
  if (l.version !== 1 || !Array.isArray(l.windows)) return false;
  return l.windows.every(
    (w: unknown) =>
      typeof w === 'object' &&
      w !== null &&
      typeof (w as SavedWindow).appId === 'string' &&
      ['x', 'y', 'w', 'h'].every((k) => Number.isFinite((w as Record<string, unknown>)[k])),
  );
}

/** The page's window manager. */
export const windowManager = new WindowManager();
