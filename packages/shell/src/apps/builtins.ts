/**
 * The shell's built-in launcher entries and window kinds. Installed modules are added by
 * `refreshModuleApps` (modules.ts) once the desktop opens.
 */
import { mount, unmount } from 'svelte';
import { registerApp } from '../lib/apps.js';
import { registerEnvironmentWindows } from './environments.js';
import ShellSettings from './ShellSettings.svelte';
import Welcome from './Welcome.svelte';

/** Registers Welcome, Settings (shell), the Module Manager and environment windows. */
export function registerBuiltinApps(): void {
  registerEnvironmentWindows();
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
  registerApp({
    id: 'shell:modules',
    name: 'Module Manager',
    icon: '⧉',
    open: () => ({
      title: 'Module Manager',
      w: 620,
      h: 560,
      mount: (el) => {
        // Loaded on first use with the module host (broker, manifest checks): not needed to
        // unlock, so not in the initial bundle.
        let c: ReturnType<typeof mount> | undefined;
        let isClosed = false;
        void import('./ModuleManager.svelte').then(({ default: ModuleManager }) => {
          if (!isClosed) c = mount(ModuleManager, { target: el });
        });
        return () => {
          isClosed = true;
          if (c) void unmount(c);
        };
      },
    }),
  });
}
