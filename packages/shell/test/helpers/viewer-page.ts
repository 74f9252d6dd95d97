/**
 * Browser entry of the viewer test page: the real DesktopViewer with the real ApiClient, mounted
 * by `window.viewerTest.open(...)` after an unlock with the test vault's passphrase. Built by
 * viewer-daemon.ts with Vite and served on the daemon's origin (so the API, the stream's Origin
 * check and the daemon's CSP all apply).
 */
import { mount } from 'svelte';
import { ApiClient } from '../../src/lib/api.js';
import DesktopViewer from '../../src/viewer/DesktopViewer.svelte';

interface ViewerExports {
  sendKey(key: string): boolean;
  focus(): void;
}

const api = new ApiClient();
const viewers = new Map<string, ViewerExports>();
const events: string[] = [];

const viewerTest = {
  events,
  async unlock(passphrase: string): Promise<void> {
    await api.unlock({ passphrase });
  },
  /** Mounts a viewer into a new box `#<name>` of the given size. */
  open(name: string, envId: string, isolated: boolean, w = 1024, h = 640): void {
    const el = document.createElement('div');
    el.id = name;
    el.style.width = `${w}px`;
    el.style.height = `${h}px`;
    document.body.append(el);
    const v = mount(DesktopViewer, {
      target: el,
      props: {
        api,
        envId,
        isolated,
        onsuspend: () => events.push(`${name}:suspend`),
        onterminate: () => events.push(`${name}:terminate`),
      },
    }) as unknown as ViewerExports;
    viewers.set(name, v);
  },
  sendKey(name: string, key: string): boolean {
    return viewers.get(name)?.sendKey(key) ?? false;
  },
};

(window as unknown as { viewerTest: typeof viewerTest }).viewerTest = viewerTest;
