/**
 * The shell's service worker: makes VirtOS installable and lets the shell's static files load
 * from a cache. SECURITY: it caches ONLY the shell's own static files (the page, /assets/*, the
 * manifest and icon); every /api/ request and anything else goes to the network untouched, so no
 * API answer (user data) is ever written to the browser's cache storage.
 */
export {};

interface FetchEventLike extends Event {
  readonly request: Request;
  respondWith(r: Promise<Response>): void;
}
interface ExtendableEventLike extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface SwScope {
  addEventListener(type: 'fetch', fn: (e: FetchEventLike) => void): void;
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEventLike) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: { claim(): Promise<void> };
  readonly location: Location;
}

const sw = self as unknown as SwScope;
const CACHE = 'virtos-shell-v1';

/** True for the shell's static files; never for the API. */
function isShellAsset(url: URL, origin: string): boolean {
  if (url.origin !== origin) return false;
  if (url.pathname.startsWith('/api/')) return false;
  return (
    url.pathname === '/' ||
    url.pathname.startsWith('/assets/') ||
    url.pathname === '/manifest.webmanifest' ||
    url.pathname === '/icon.svg'
  );
}

sw.addEventListener('install', (e) => {
  e.waitUntil(sw.skipWaiting());
});

sw.addEventListener('activate', (e) => {
  e.waitUntil(
    (async () => {
      for (const k of await caches.keys()) if (k !== CACHE) await caches.delete(k);
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || !isShellAsset(url, sw.location.origin)) return;
  e.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      // Hashed assets never change: cache first. The page itself: network first, so a new build
      // (and the daemon's current CSP) wins whenever the daemon is reachable.
      if (url.pathname.startsWith('/assets/')) {
        const hit = await cache.match(e.request);
        if (hit) return hit;
      }
      try {
        const res = await fetch(e.request);
        if (res.ok) await cache.put(e.request, res.clone());
        return res;
      } catch (err) {
        const hit = await cache.match(e.request);
        if (hit) return hit;
        throw err;
      }
    })(),
  );
});
