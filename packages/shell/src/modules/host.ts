/**
 * The module host: puts a module into a sandboxed iframe, hands it one end of a MessageChannel,
 * and serves its calls through a {@link ModuleBroker}. The iframe has an opaque origin (no
 * `allow-same-origin`), may run scripts and nothing else, and its document's CSP forbids network.
 */
import { CONNECT_TYPE, PROTOCOL_VERSION, serveRpc, type ConnectMessage } from '@virtos/module-sdk';
import type { ModuleBroker } from './broker.js';

/** A mounted module; `dispose` removes the frame and closes the channel. */
export interface MountedModule {
  readonly frame: HTMLIFrameElement;
  /** Resolves once the module's document loaded and got its port. */
  readonly ready: Promise<void>;
  /** Sends a key from the embedded keyboard to the module (`onKey` in the SDK). */
  sendKey(key: string): void;
  dispose(): void;
}

/** Options of {@link mountModule}. */
export interface MountOptions {
  /** The single-use frame URL from POST /api/modules/:id/frame. */
  readonly frameUrl: string;
  readonly broker: ModuleBroker;
  /** Called when the module's frame navigates away from its document (it is then removed). */
  readonly onViolation?: (reason: string) => void;
}

/** Mounts a module into `container`. */
export function mountModule(container: HTMLElement, options: MountOptions): MountedModule {
  const doc = container.ownerDocument;
  const frame = doc.createElement('iframe');
  // SECURITY: scripts only: no same-origin (so no access to the shell's DOM, storage or
  // cookies, and fetches carry Origin: null), no forms, popups, top navigation, downloads or
  // pointer lock. `allow` grants no device or feature permissions.
  frame.setAttribute('sandbox', 'allow-scripts');
  frame.setAttribute('allow', '');
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.setAttribute('loading', 'eager');
  frame.setAttribute('title', `module ${options.broker.moduleId}`);
  frame.style.cssText = 'border:0;width:100%;height:100%;display:block;background:#fff';
  const channel = new MessageChannel();
  let stop: (() => void) | undefined;
  let loads = 0;
  let isDisposed = false;
  let resolveReady: () => void = () => undefined;
  let rejectReady: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });

  const dispose = (): void => {
    if (isDisposed) return;
    isDisposed = true;
    options.broker.dispose();
    stop?.();
    channel.port1.close();
    frame.removeEventListener('load', onLoad);
    // SECURITY: about:blank first, so the module's realm (and anything it held) goes away now.
    frame.src = 'about:blank';
    frame.remove();
  };

  function onLoad(): void {
    loads += 1;
    if (loads > 1) {
      // SECURITY: a module may navigate its own frame (sandboxes allow that); a second document
      // is not the one whose hash the daemon allowed, so the module is stopped.
      options.onViolation?.('The module navigated its frame away from its document.');
      rejectReady(new Error('module frame navigated'));
      dispose();
      return;
    }
    stop = serveRpc(channel.port1, (m, p) => options.broker.handle(m, p));
    options.broker.attach((event, data) => {
      if (!isDisposed) channel.port1.postMessage({ v: PROTOCOL_VERSION, event, data });
    });
    const hello: ConnectMessage = {
      type: CONNECT_TYPE,
      v: PROTOCOL_VERSION,
      moduleId: options.broker.moduleId,
    };
    // SECURITY: the frame's origin is opaque, so '*' is the only target that reaches it; the
    // message carries no secret, only the port, and the port speaks only to this broker.
    frame.contentWindow?.postMessage(hello, '*', [channel.port2]);
    resolveReady();
  }

  frame.addEventListener('load', onLoad);
  frame.src = options.frameUrl;
  container.appendChild(frame);

  return {
    frame,
    ready,
    sendKey(key: string) {
      if (isDisposed) return;
      channel.port1.postMessage({ v: PROTOCOL_VERSION, event: 'key', data: key });
    },
    dispose,
  };
}
