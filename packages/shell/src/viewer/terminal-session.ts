/**
 * A terminal environment's shell in the browser: xterm.js (loaded on first use) on the daemon's
 * `/streams/<id>` WebSocket (docs/gateway.md, "PTY bridge protocol", browser side). Keystrokes go
 * out as binary frames, the terminal size as the one text frame the gateway accepts, terminal
 * bytes come back as binary frames, and a text frame `{"type":"exit","code":N}` says the shell
 * ended.
 *
 * The shell's Content-Security-Policy allows styles only from the daemon's files. xterm.js writes
 * its theme and cell-size rules into `<style>` elements, which that policy blocks; the session
 * mirrors their text into a constructed stylesheet (CSSOM, which CSP does not govern) so the
 * policy can stay strict.
 */
import type { FitAddon } from '@xterm/addon-fit';
import type { Terminal } from '@xterm/xterm';
import type { ApiClient } from '../lib/api.js';
import { explainClose } from './close-reasons.js';

/** What the viewer shows about the session. */
export interface TerminalStatus {
  readonly phase: 'loading' | 'connecting' | 'open' | 'ended';
  /** Shown when the session ended or failed. */
  readonly message?: string;
  /** The shell's exit code once it exited. */
  readonly exitCode?: number;
  /** Whether a new connection makes sense (the environment still runs). */
  readonly canReconnect: boolean;
}

/** Options of {@link TerminalSession}. */
export interface TerminalSessionOptions {
  readonly api: ApiClient;
  readonly envId: string;
  /** The element xterm.js renders into (it fills it). */
  readonly target: HTMLElement;
  readonly onStatus: (s: TerminalStatus) => void;
}

/** Mirrors the text of every `<style>` under `root` into one adopted stylesheet. */
function mirrorStyles(root: HTMLElement): () => void {
  if (typeof CSSStyleSheet === 'undefined' || !('adoptedStyleSheets' in document)) {
    return () => undefined;
  }
  const sheet = new CSSStyleSheet();
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  const sync = (): void => {
    const text = [...root.querySelectorAll('style')].map((s) => s.textContent ?? '').join('\n');
    sheet.replaceSync(text);
  };
  const observer = new MutationObserver(sync);
  observer.observe(root, { subtree: true, childList: true, characterData: true });
  sync();
  return () => {
    observer.disconnect();
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
  };
}

/** One terminal window's connection; `dispose()` ends it. */
export class TerminalSession {
  private ws: WebSocket | undefined;
  // Types only: the modules themselves are imported in start().
  private term: Terminal | undefined;
  private fit: FitAddon | undefined;
  private readonly cleanups: (() => void)[] = [];
  private isDisposed = false;
  status: TerminalStatus = { phase: 'loading', canReconnect: false };

  constructor(private readonly opts: TerminalSessionOptions) {}

  private set(s: TerminalStatus): void {
    this.status = s;
    this.opts.onStatus(s);
  }

  /** Loads xterm.js, then connects. */
  async start(): Promise<void> {
    // Lazy: xterm.js (and its CSS) become chunks of their own, fetched when a terminal opens.
    const [xterm, fitAddon] = await Promise.all([
      import('@xterm/xterm'),
      import('@xterm/addon-fit'),
      import('@xterm/xterm/css/xterm.css'),
    ]);
    if (this.isDisposed) return;
    this.cleanups.push(mirrorStyles(this.opts.target));
    const term = new xterm.Terminal({
      cursorBlink: true,
      fontFamily: 'monospace',
      fontSize: 14,
      scrollback: 5000,
    });
    const fit = new fitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(this.opts.target);
    this.term = term;
    this.fit = fit;
    const encoder = new TextEncoder();
    const send = (bytes: Uint8Array<ArrayBuffer>): void => {
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(bytes);
    };
    const onData = term.onData((d) => send(encoder.encode(d)));
    // Binary input (some mouse reports) is a string of byte values.
    const onBinary = term.onBinary((d) => send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
    const onResize = term.onResize(() => this.sendSize());
    this.cleanups.push(() => {
      onData.dispose();
      onBinary.dispose();
      onResize.dispose();
    });
    const ro = new ResizeObserver(() => this.refit());
    ro.observe(this.opts.target);
    this.cleanups.push(() => ro.disconnect());
    this.refit();
    await this.connect();
  }

  /** Fits the terminal to its box (the size goes to the shell through onResize). */
  refit(): void {
    try {
      this.fit?.fit();
    } catch {
      // Not laid out yet (zero size): the next resize fits.
    }
  }

  private sendSize(): void {
    const t = this.term;
    if (!t || this.ws?.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ type: 'resize', cols: t.cols, rows: t.rows }));
  }

  /** Opens a new stream (a fresh shell) with a fresh token. */
  async connect(): Promise<void> {
    const term = this.term;
    if (!term || this.isDisposed) return;
    this.ws?.close();
    this.set({ phase: 'connecting', canReconnect: false });
    let url: string;
    try {
      const t = await this.opts.api.streamToken(this.opts.envId);
      url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${t.url}`;
    } catch (e) {
      this.set({
        phase: 'ended',
        message: `Cannot open a terminal: ${String(e)}`,
        canReconnect: true,
      });
      return;
    }
    if (this.isDisposed) return;
    const ws = new WebSocket(url, ['binary']);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let opened = false;
    let exitCode: number | undefined;
    ws.onopen = () => {
      opened = true;
      this.set({ phase: 'open', canReconnect: false });
      this.sendSize();
      term.focus();
    };
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data !== 'string') {
        term.write(new Uint8Array(ev.data));
        return;
      }
      try {
        const m = JSON.parse(ev.data) as { type?: unknown; code?: unknown };
        if (m.type === 'exit' && typeof m.code === 'number') exitCode = m.code;
      } catch {
        // Unknown text frames are ignored (room for later messages).
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws || this.isDisposed) return;
      if (exitCode !== undefined) {
        this.set({
          phase: 'ended',
          exitCode,
          message: `The shell exited (code ${exitCode}).`,
          canReconnect: true,
        });
        return;
      }
      const v = explainClose(ev.code, ev.reason, opened);
      // 4004/4005 name the display server for desktops; for a terminal it is the shell.
      const message =
        ev.code === 4004
          ? 'The shell closed the connection.'
          : ev.code === 4005
            ? 'The shell could not be started.'
            : v.message;
      this.set({ phase: 'ended', message, canReconnect: !v.isEnvironmentGone });
    };
  }

  /** A key of the shell's embedded keyboard: a character, `Backspace` or `Enter`. */
  sendKey(key: string): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    const bytes =
      key === 'Backspace' ? '\x7f' : key === 'Enter' ? '\r' : key.length === 1 ? key : '';
    if (!bytes) return false;
    this.ws.send(new TextEncoder().encode(bytes));
    return true;
  }

  focus(): void {
    this.term?.focus();
  }

  dispose(): void {
    this.isDisposed = true;
    this.ws?.close();
    this.ws = undefined;
    for (const c of this.cleanups.splice(0)) c();
    this.term?.dispose();
    this.term = undefined;
  }
}
