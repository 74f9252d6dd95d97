/**
 * Browser entry of the terminal viewer test page: the real TerminalViewer with the real ApiClient,
 * mounted by `window.terminalTest.open(...)` after an unlock. Built with Vite and served on the
 * daemon's origin under the daemon's CSP (terminal-viewer.integration.test.ts).
 */
import { mount } from 'svelte';
import { ApiClient } from '../../src/lib/api.js';
import TerminalViewer from '../../src/viewer/TerminalViewer.svelte';

const api = new ApiClient();

const terminalTest = {
  async unlock(passphrase: string): Promise<void> {
    await api.unlock({ passphrase });
  },
  /** Mounts a viewer into a new box `#<name>` of the given size (CSSOM, allowed by the CSP). */
  open(name: string, envId: string, w: number, h: number): void {
    const el = document.createElement('div');
    el.id = name;
    el.style.width = `${w}px`;
    el.style.height = `${h}px`;
    document.body.append(el);
    mount(TerminalViewer, { target: el, props: { api, envId } });
  },
  resize(name: string, w: number, h: number): void {
    const el = document.getElementById(name);
    if (el) {
      el.style.width = `${w}px`;
      el.style.height = `${h}px`;
    }
  },
  /** The terminal's visible text, one line per row (xterm's DOM renderer). */
  text(name: string): string {
    const rows = document.querySelectorAll(`#${name} .xterm-rows > div`);
    return [...rows].map((r) => r.textContent ?? '').join('\n');
  },
  /** Rules in constructed stylesheets (the mirrored xterm rules). */
  adoptedRules(): number {
    return document.adoptedStyleSheets.reduce((n, s) => n + s.cssRules.length, 0);
  },
};

(window as unknown as { terminalTest: typeof terminalTest }).terminalTest = terminalTest;
