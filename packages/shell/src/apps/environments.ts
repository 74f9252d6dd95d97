/**
 * Environment windows: a window kind `env:<environment id>` next to module windows. The window's
 * place is saved in the layout like any other, and a saved one reopens after unlock (its content
 * asks the daemon again, so a terminated environment just says so).
 */
import { mount, unmount } from 'svelte';
import { launch, registerAppKind } from '../lib/apps.js';
import type { OpenOptions, WindowHandle } from '../lib/window-manager.js';

/** An environment record as the daemon's API gives it (the fields the window reads). */
export interface EnvRecord {
  readonly id: string;
  readonly name: string;
  readonly state: 'requested' | 'provisioning' | 'running' | 'suspended' | 'terminated' | 'failed';
  readonly reason?: string;
  readonly spec: Record<string, unknown>;
  readonly display?: { readonly protocol: string; readonly width: number; readonly height: number };
}

/** Environment ids as the daemon makes them (also what a saved layout may name). */
const ENV_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Whether the environment's window must keep it apart from the rest of the desktop: no clipboard
 * in either direction. True for `hardened` and `maximum` isolation (untrusted content, sensitive
 * work) and for Tor environments (a clipboard is an identity leak); unknown shapes count as
 * isolated.
 */
export function isIsolated(spec: unknown): boolean {
  const s = (typeof spec === 'object' && spec !== null ? spec : {}) as {
    security?: { isolation?: unknown };
    network?: { mode?: unknown };
  };
  const isolation = s.security?.isolation;
  if (isolation !== 'standard') return true;
  return s.network?.mode === 'tor';
}

/** The open options of environment `envId`'s window. */
function environmentWindow(envId: string): OpenOptions | undefined {
  if (!ENV_ID.test(envId)) return undefined;
  let send: ((key: string) => boolean) | undefined;
  return {
    title: 'Environment',
    w: 980,
    h: 660,
    mount: (el: HTMLElement, win: WindowHandle) => {
      // Loaded on first use (with the SSE reader), not part of the lock screen's bundle.
      let c: { sendKey?: (key: string) => boolean } | undefined;
      let isClosed = false;
      void import('./EnvironmentWindow.svelte').then(({ default: EnvironmentWindow }) => {
        if (isClosed) return;
        c = mount(EnvironmentWindow, {
          target: el,
          props: { envId, ontitle: (t: string) => win.setTitle(t) },
        }) as { sendKey?: (key: string) => boolean };
        send = (k) => c?.sendKey?.(k) ?? false;
      });
      return () => {
        isClosed = true;
        send = undefined;
        if (c) void unmount(c);
      };
    },
    // The embedded keyboard types into the environment through the viewer.
    onKeyboard: (key) => void send?.(key),
  };
}

/** Registers the `env:` window kind (once, at start). */
export function registerEnvironmentWindows(): void {
  registerAppKind('env:', environmentWindow);
}

/** Opens (or focuses) the window of environment `envId`. */
export function openEnvironmentWindow(envId: string): WindowHandle | undefined {
  return launch(`env:${envId}`);
}
