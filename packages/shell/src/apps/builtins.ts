/**
 * The shell's built-in launcher entries. Module apps are registered by the module host.
 */
import { mount, unmount } from 'svelte';
import { registerApp } from '../lib/apps.js';
import ShellSettings from './ShellSettings.svelte';
import Welcome from './Welcome.svelte';

/** Registers Welcome and Settings (shell). */
export function registerBuiltinApps(): void {
  registerApp({
    id: 'shell:welcome',
    name: 'Welcome',
    icon: '★',
    open: () => ({
      title: 'Welcome',
      w: 520,
      h: 360,
      mount: (el) => {
        const c = mount(Welcome, { target: el });
        return () => void unmount(c);
      },
    }),
  });
  registerApp({
    id: 'shell:settings',
    name: 'Shell settings',
    icon: '⚙',
    open: () => ({
      title: 'Shell settings',
      w: 560,
      h: 440,
      mount: (el) => {
        const c = mount(ShellSettings, { target: el });
        return () => void unmount(c);
      },
    }),
  });
}
