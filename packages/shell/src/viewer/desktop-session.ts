/**
 * One environment's desktop stream in the browser: fetches a single-use stream token, opens the
 * WebSocket to `/streams/<id>` itself (so the gateway's close code is known, which noVNC's own
 * `disconnect` event does not carry), hands it to noVNC, reconnects after a network blip with a
 * fresh token, polls the stream's figures for the overlay and adapts JPEG quality/compression.
 *
 * noVNC is imported lazily (the first connect), so the shell's initial bundle does not carry it.
 * No DOM beyond the target element; the Svelte component draws the overlay from {@link ViewerStatus}.
 */
import type RFB from '@novnc/novnc';
import type { StreamStatsReply, StreamTokenReply } from '../lib/api.js';
import { backoffDelay, explainClose, type CloseVerdict } from './close-reasons.js';
import { keysymFor } from './keysyms.js';
import { QualityController, TIERS, type QualityTier } from './quality.js';

/** The overlay's connection state. */
export type ViewerState =
  | 'connecting'
  | 'connected'
  | 'reconnecting'
  | 'disconnected'
  | 'suspended'
  | 'terminated'
  | 'error';

/** How the remote desktop meets the window: scaled locally, or resized on the server (RandR). */
export type ScaleMode = 'fit' | 'remote';

/** Clipboard indicator: off (isolated), idle, or the direction of the last transfer. */
export type ClipboardState = 'off' | 'idle' | 'to-remote' | 'from-remote' | 'refused';

/** Everything the overlay shows. */
export interface ViewerStatus {
  readonly state: ViewerState;
  readonly message: string;
  /** Reconnect attempt in progress (1-based), 0 otherwise. */
  readonly attempt: number;
  readonly quality: QualityTier;
  readonly qualityIndex: number;
  readonly isQualityPinned: boolean;
  readonly stats: StreamStatsReply | undefined;
  readonly clipboard: ClipboardState;
  /** The last text the environment put on its clipboard (not when isolated). */
  readonly remoteClipboard: string;
  /** Remote desktop size in pixels, once known. */
  readonly remoteSize: { readonly w: number; readonly h: number } | undefined;
}

/** The API calls the session needs (ApiClient satisfies it). */
export interface StreamApi {
  streamToken(id: string): Promise<StreamTokenReply>;
  streamStats(id: string): Promise<StreamStatsReply[]>;
}

export interface DesktopSessionOptions {
  readonly api: StreamApi;
  readonly envId: string;
  /** Where noVNC puts its canvas; it fills this element. */
  readonly target: HTMLElement;
  /** Clipboard off both ways (the environment's spec says isolated). */
  readonly isolated: boolean;
  readonly scaleMode?: ScaleMode;
  readonly onStatus: (s: ViewerStatus) => void;
  /** Stats poll interval, ms. */
  readonly statsIntervalMs?: number;
  /** Loads noVNC; injectable for tests. */
  readonly loadRfb?: () => Promise<typeof RFB>;
}

/** Why a clipboard transfer was refused (shown in the overlay). */
export const CLIPBOARD_OFF_MESSAGE = 'Clipboard is off for this isolated environment.';

const defaultLoad = async (): Promise<typeof RFB> => (await import('@novnc/novnc')).default;

/** One viewer's connection; create, `start()`, `dispose()` when the window closes. */
export class DesktopSession {
  readonly #o: DesktopSessionOptions;
  readonly #quality = new QualityController();
  #rfb: RFB | undefined;
  #state: ViewerState = 'connecting';
  #message = 'Connecting…';
  #attempt = 0;
  #onceUsed = false;
  #stats: StreamStatsReply | undefined;
  #clipboard: ClipboardState;
  #remoteClipboard = '';
  #remoteSize: { w: number; h: number } | undefined;
  #scaleMode: ScaleMode;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  #isDisposed = false;
  /** Bumped on every connect; late callbacks of an older connection are ignored. */
  #generation = 0;

  constructor(o: DesktopSessionOptions) {
    this.#o = o;
    this.#clipboard = o.isolated ? 'off' : 'idle';
    this.#scaleMode = o.scaleMode ?? 'fit';
  }

  /** The noVNC client while connected (the gesture layer needs its canvas). */
  get rfb(): RFB | undefined {
    return this.#rfb;
  }

  get status(): ViewerStatus {
    return {
      state: this.#state,
      message: this.#message,
      attempt: this.#attempt,
      quality: this.#quality.tier,
      qualityIndex: this.#quality.tierIndex,
      isQualityPinned: this.#quality.isPinned,
      stats: this.#stats,
      clipboard: this.#clipboard,
      remoteClipboard: this.#remoteClipboard,
      remoteSize: this.#remoteSize,
    };
  }

  /** Connects (first time). */
  start(): Promise<void> {
    return this.#connect();
  }

  /** Reconnects now with a fresh token (the overlay's Reconnect button). */
  reconnect(): Promise<void> {
    if (this.#state === 'terminated') return Promise.resolve();
    this.#attempt = 0;
    this.#onceUsed = false;
    return this.#connect();
  }

  /** Closes the stream and stops every timer. */
  dispose(): void {
    this.#isDisposed = true;
    this.#generation++;
    clearTimeout(this.#timer);
    clearInterval(this.#statsTimer);
    this.#teardown();
  }

  async #connect(): Promise<void> {
    const gen = ++this.#generation;
    clearTimeout(this.#timer);
    this.#teardown();
    this.#set(this.#attempt > 0 ? 'reconnecting' : 'connecting', this.#connectingMessage());
    let RfbClass: typeof RFB;
    let reply: StreamTokenReply;
    try {
      RfbClass = await (this.#o.loadRfb ?? defaultLoad)();
      // A fresh token for every connection: tokens are single use and live seconds.
      reply = await this.#o.api.streamToken(this.#o.envId);
    } catch (e) {
      if (gen !== this.#generation) return;
      const code = (e as { code?: string }).code;
      const status = (e as { status?: number }).status;
      if (status === 409 || code === 'orchestrator.not_found') {
        // Not running (any more), or gone: nothing to reconnect to.
        this.#set('disconnected', `The environment is not running. ${(e as Error).message}`);
        return;
      }
      this.#scheduleRetry({
        message: `Cannot get a stream token: ${(e as Error).message}`,
        policy: 'retry',
        isEnvironmentGone: false,
        state: 'error',
      });
      return;
    }
    if (gen !== this.#generation) return;
    // SECURITY: same origin only: the URL path comes from the daemon's answer, host and scheme
    // from this page (wss when the shell is served over TLS), so the token never leaves the
    // daemon's origin.
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const path = reply.url.startsWith('/streams/') ? reply.url : '/streams/invalid';
    const ws = new WebSocket(`${scheme}://${location.host}${path}`, ['binary']);
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
    });
    ws.addEventListener('close', (ev) => {
      if (gen !== this.#generation) return;
      this.#onClose(explainClose(ev.code, ev.reason, opened));
    });
    const rfb = new RfbClass(this.#o.target, ws, { wsProtocols: ['binary'], shared: true });
    this.#rfb = rfb;
    rfb.background = 'rgb(20, 22, 28)';
    rfb.focusOnClick = true;
    this.#applyScale(rfb);
    this.#applyQuality(rfb);
    rfb.addEventListener('connect', () => {
      if (gen !== this.#generation) return;
      this.#attempt = 0;
      this.#onceUsed = false;
      this.#set('connected', 'Connected');
      this.#startStats(gen);
    });
    rfb.addEventListener('clipboard', (ev) => {
      if (gen !== this.#generation) return;
      this.#fromRemoteClipboard((ev as CustomEvent<{ text: string }>).detail.text);
    });
    rfb.addEventListener('desktopname', () => this.#readSize());
    rfb.addEventListener('securityfailure', (ev) => {
      const d = (ev as CustomEvent<{ reason?: string }>).detail;
      this.#set('error', `Security negotiation failed${d.reason ? `: ${d.reason}` : ''}.`);
    });
  }

  #connectingMessage(): string {
    return this.#attempt > 0 ? `Reconnecting (attempt ${this.#attempt})…` : 'Connecting…';
  }

  #onClose(v: CloseVerdict): void {
    clearInterval(this.#statsTimer);
    this.#rfb = undefined;
    if (this.#isDisposed) return;
    if (v.state === 'suspended' || v.state === 'terminated') {
      this.#set(v.state, v.message);
      return;
    }
    this.#scheduleRetry(v);
  }

  #scheduleRetry(v: CloseVerdict): void {
    const canRetry =
      v.policy === 'retry' || (v.policy === 'once' && !this.#onceUsed && this.#attempt === 0);
    if (!canRetry) {
      this.#set(v.state === 'error' ? 'error' : 'disconnected', v.message);
      return;
    }
    if (v.policy === 'once') this.#onceUsed = true;
    const delay = backoffDelay(this.#attempt);
    if (delay === undefined) {
      this.#set('disconnected', `${v.message} Gave up after ${this.#attempt} attempts.`);
      return;
    }
    this.#attempt++;
    this.#set('reconnecting', `${v.message} Reconnecting in ${(delay / 1000).toFixed(1)} s…`);
    this.#timer = setTimeout(() => void this.#connect(), delay);
  }

  #teardown(): void {
    const rfb = this.#rfb;
    this.#rfb = undefined;
    if (rfb) {
      try {
        rfb.disconnect();
      } catch {
        // already closed
      }
    }
  }

  #startStats(gen: number): void {
    clearInterval(this.#statsTimer);
    const poll = async (): Promise<void> => {
      try {
        const all = await this.#o.api.streamStats(this.#o.envId);
        if (gen !== this.#generation) return;
        // Our stream is the newest one (several windows may view the same environment).
        const s = all[all.length - 1];
        this.#stats = s;
        this.#readSize();
        if (s && this.#quality.update(s) && this.#rfb) this.#applyQuality(this.#rfb);
        this.#emit();
      } catch {
        // Stats are best effort; the stream's close handler reports real trouble.
      }
    };
    void poll();
    this.#statsTimer = setInterval(() => void poll(), this.#o.statsIntervalMs ?? 2_000);
  }

  #readSize(): void {
    const canvas = this.#o.target.querySelector('canvas');
    if (canvas && canvas.width > 0) this.#remoteSize = { w: canvas.width, h: canvas.height };
  }

  #applyQuality(rfb: RFB): void {
    const t = this.#quality.tier;
    rfb.qualityLevel = t.qualityLevel;
    rfb.compressionLevel = t.compressionLevel;
  }

  #applyScale(rfb: RFB): void {
    // 'remote': ask the server to match the window (ExtendedDesktopSize; Xvnc applies it through
    // RandR). noVNC falls back to showing the desktop unscaled when the server refuses, so
    // scaling stays on as the fallback for servers without the extension.
    rfb.resizeSession = this.#scaleMode === 'remote';
    rfb.scaleViewport = true;
    rfb.clipViewport = false;
  }

  /** Switches between local scaling and server-side resize. */
  setScaleMode(m: ScaleMode): void {
    this.#scaleMode = m;
    if (this.#rfb) this.#applyScale(this.#rfb);
  }

  get scaleMode(): ScaleMode {
    return this.#scaleMode;
  }

  /** Pins a quality tier (index into TIERS), or back to adaptive with undefined. */
  pinQuality(index: number | undefined): void {
    this.#quality.pin(index);
    if (this.#rfb) this.#applyQuality(this.#rfb);
    this.#emit();
  }

  /** The presets the user can pin. */
  readonly tiers = TIERS;

  /** Keyboard focus to the remote desktop (keys go there only while it has focus). */
  focus(): void {
    this.#rfb?.focus({ preventScroll: true });
  }

  blur(): void {
    this.#rfb?.blur();
  }

  /**
   * Sends one key of the shell's embedded keyboard (a character, `Backspace`, `Enter`, `Tab`,
   * `Escape`) as a press and release. Returns false when not connected or the key is unknown.
   */
  sendKey(key: string): boolean {
    const k = keysymFor(key);
    if (!k || !this.#rfb || this.#state !== 'connected') return false;
    this.#rfb.sendKey(k.keysym, k.code);
    return true;
  }

  /** Sends a keysym press+release (or one edge with `down`). */
  sendKeysym(keysym: number, code: string | null = null, down?: boolean): void {
    if (this.#state === 'connected') this.#rfb?.sendKey(keysym, code, down);
  }

  sendCtrlAltDel(): void {
    if (this.#state === 'connected') this.#rfb?.sendCtrlAltDel();
  }

  /**
   * Puts `text` on the environment's clipboard. Refused (false, indicator `refused`) for an
   * isolated environment.
   */
  pasteToRemote(text: string): boolean {
    if (this.#o.isolated) {
      // SECURITY: isolated environments get no clipboard in either direction.
      this.#clipboard = 'refused';
      this.#message = CLIPBOARD_OFF_MESSAGE;
      this.#emit();
      return false;
    }
    if (!this.#rfb || this.#state !== 'connected') return false;
    this.#rfb.clipboardPasteFrom(text);
    this.#clipboard = 'to-remote';
    this.#emit();
    return true;
  }

  #fromRemoteClipboard(text: string): void {
    // SECURITY: drop what an isolated environment puts on its clipboard; nothing reaches the page.
    if (this.#o.isolated) return;
    this.#remoteClipboard = text.slice(0, 1 << 20);
    this.#clipboard = 'from-remote';
    this.#emit();
    // Best effort: the browser allows clipboard writes only with focus (and may ask).
    navigator.clipboard?.writeText(this.#remoteClipboard).catch(() => undefined);
  }

  /** A PNG of the remote framebuffer (not of the overlay). */
  screenshot(): Promise<Blob | undefined> {
    const rfb = this.#rfb;
    if (!rfb) return Promise.resolve(undefined);
    return new Promise((resolve) => rfb.toBlob((b) => resolve(b ?? undefined), 'image/png'));
  }

  #set(state: ViewerState, message: string): void {
    this.#state = state;
    this.#message = message;
    this.#emit();
  }

  #emit(): void {
    if (!this.#isDisposed) this.#o.onStatus(this.status);
  }
}
