/**
 * The page's one {@link EventHub}: the daemon's all-environments event stream, followed with the
 * session header, shared by environment windows and module brokers. Loaded with them (after
 * unlock), so the lock screen's bundle does not carry the SSE reader.
 */
import { followSse } from '../modules/sse.js';
import { api } from './api.js';
import { EventHub } from './event-hub.js';
import { onWillLock } from './session.js';

/** Environment events for the whole shell (one HTTP connection however many listen). */
export const environmentEvents = new EventHub({
  // SECURITY: followSse sends the token in the Authorization header, never in the URL; the hub
  // opens only when a window or a module with `environments:manage` listens, i.e. after unlock.
  follow: (path, onMessage, signal, onOpen) =>
    followSse(api, path, onMessage, signal, undefined, onOpen),
});

// SECURITY: locking ends the stream before the token is revoked, and no subscriber is served again.
onWillLock(() => environmentEvents.close());
