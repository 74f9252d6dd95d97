/**
 * Reads the target host of a plain HTTP/1.x request from its head (request line + headers). The
 * egress proxy uses it to allow or refuse unencrypted requests.
 */

/** Outcome of looking at the first bytes of a plain-text connection. */
export type HttpHostResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'ok'; readonly host: string; readonly headLength: number }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Largest request head the proxy buffers, in bytes. */
export const MAX_HTTP_HEAD_BYTES = 16 * 1024;

const METHOD_RE = /^[A-Z]{3,10}$/;

/**
 * Parses the Host of the request head in `data`. Only origin-form targets (`GET /path`) are allowed:
 * absolute-form and CONNECT would name a second host the Host header might disagree with. Exactly
 * one Host header is required; its port, if any, is dropped (the proxy keeps the port the client
 * dialled).
 */
export function parseHttpHost(data: Uint8Array): HttpHostResult {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (data.length >= MAX_HTTP_HEAD_BYTES) return { kind: 'invalid', reason: 'head too long' };
    // Reject early when the first line cannot become a request line.
    const firstSpace = text.indexOf(' ');
    if (firstSpace > 0 && !METHOD_RE.test(text.slice(0, firstSpace))) {
      return { kind: 'invalid', reason: 'not an HTTP request' };
    }
    return { kind: 'need_more' };
  }
  const lines = text.slice(0, headEnd).split('\r\n');
  const requestLine = lines[0] ?? '';
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return { kind: 'invalid', reason: 'bad request line' };
  const [method, target, version] = parts as [string, string, string];
  if (!METHOD_RE.test(method) || !/^HTTP\/1\.[01]$/.test(version)) {
    return { kind: 'invalid', reason: 'not an HTTP/1.x request' };
  }
  if (method === 'CONNECT' || !target.startsWith('/')) {
    return { kind: 'invalid', reason: 'only origin-form request targets are allowed' };
  }
  let host: string | undefined;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { kind: 'invalid', reason: 'bad header line' };
    const name = line.slice(0, colon);
    if (name.trim() !== name) return { kind: 'invalid', reason: 'whitespace in header name' };
    if (name.toLowerCase() !== 'host') continue;
    if (host !== undefined) return { kind: 'invalid', reason: 'several Host headers' };
    host = line.slice(colon + 1).trim();
  }
  if (!host) return { kind: 'invalid', reason: 'no Host header' };
  const withoutPort = stripPort(host);
  if (withoutPort === undefined) return { kind: 'invalid', reason: 'bad Host header' };
  return { kind: 'ok', host: withoutPort, headLength: headEnd + 4 };
}

function stripPort(host: string): string | undefined {
  if (host.startsWith('[')) return undefined; // IPv6 literals are never on an allowlist of names
  const colon = host.indexOf(':');
  if (colon < 0) return host;
  const port = host.slice(colon + 1);
  if (!/^\d{1,5}$/.test(port)) return undefined;
  return host.slice(0, colon);
}

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection']);

/**
 * Rewrites the first request head so the connection carries only this one request: drops
 * `Connection`, `Keep-Alive` and `Proxy-Connection` and adds `Connection: close`. A compliant server
 * then closes after its response, so a later request on the same connection cannot name another
 * virtual host of the same upstream address without a fresh Host check. Returns the new bytes
 * (head + whatever followed it in `data`).
 */
export function forceConnectionClose(data: Uint8Array, headLength: number): Buffer {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const head = buf.subarray(0, headLength - 4).toString('latin1');
  const lines = head.split('\r\n');
  const kept = [
    lines[0] ?? '',
    ...lines.slice(1).filter((l) => !HOP_HEADERS.has(l.slice(0, l.indexOf(':')).toLowerCase())),
  ];
  kept.push('Connection: close');
  return Buffer.concat([
    Buffer.from(kept.join('\r\n') + '\r\n\r\n', 'latin1'),
    buf.subarray(headLength),
  ]);
}
