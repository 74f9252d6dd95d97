/**
 * Reads the server name (SNI) from a TLS ClientHello without decrypting anything. The egress proxy
 * uses it to decide whether a TLS connection may leave, so the parser is strict: any length that
 * does not add up is an error, never a guess.
 */

/** Outcome of looking at the first bytes of a connection. */
export type SniResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'ok'; readonly serverName: string }
  | { readonly kind: 'no_sni' }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Largest ClientHello the proxy buffers, in bytes (one TLS record carries at most 16 KiB). */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024 + 5;

const TLS_HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;

/** True when the first byte looks like a TLS handshake record. */
export function looksLikeTls(first: number | undefined): boolean {
  return first === TLS_HANDSHAKE;
}

/**
 * Parses the SNI host name from the first TLS record in `data`. Returns `need_more` until the whole
 * record has arrived. Only a ClientHello that fits in its first record is accepted (every mainstream
 * client sends it that way; post-quantum key shares still fit in 16 KiB).
 */
export function parseClientHelloSni(data: Uint8Array): SniResult {
  if (data.length < 5) return { kind: 'need_more' };
  if (data[0] !== TLS_HANDSHAKE) return { kind: 'invalid', reason: 'not a TLS handshake record' };
  const recordLength = ((data[3] ?? 0) << 8) | (data[4] ?? 0);
  if (recordLength > 16 * 1024) return { kind: 'invalid', reason: 'record too long' };
  if (data.length < 5 + recordLength) return { kind: 'need_more' };
  const rec = data.subarray(5, 5 + recordLength);
  let p = 0;
  const need = (n: number): boolean => p + n <= rec.length;
  const u8 = (): number => rec[p++] ?? 0;
  const u16 = (): number => (u8() << 8) | u8();
  const u24 = (): number => (u8() << 16) | (u8() << 8) | u8();

  if (!need(4)) return { kind: 'invalid', reason: 'truncated handshake header' };
  if (u8() !== CLIENT_HELLO) return { kind: 'invalid', reason: 'not a ClientHello' };
  const helloLength = u24();
  if (helloLength > rec.length - 4) {
    return { kind: 'invalid', reason: 'ClientHello spans several records' };
  }
  const end = 4 + helloLength;
  // legacy_version (2) + random (32)
  if (p + 34 > end) return { kind: 'invalid', reason: 'truncated ClientHello' };
  p += 34;
  if (p + 1 > end) return { kind: 'invalid', reason: 'truncated session id' };
  const sessionIdLength = u8();
  if (sessionIdLength > 32 || p + sessionIdLength > end) {
    return { kind: 'invalid', reason: 'bad session id' };
  }
  p += sessionIdLength;
  if (p + 2 > end) return { kind: 'invalid', reason: 'truncated cipher suites' };
  const suitesLength = u16();
  if (suitesLength % 2 !== 0 || p + suitesLength > end) {
    return { kind: 'invalid', reason: 'bad cipher suites' };
  }
  p += suitesLength;
  if (p + 1 > end) return { kind: 'invalid', reason: 'truncated compression methods' };
  const compressionLength = u8();
  if (p + compressionLength > end) return { kind: 'invalid', reason: 'bad compression methods' };
  p += compressionLength;
  if (p === end) return { kind: 'no_sni' };
  if (p + 2 > end) return { kind: 'invalid', reason: 'truncated extensions' };
  const extensionsLength = u16();
  if (p + extensionsLength !== end) return { kind: 'invalid', reason: 'bad extensions length' };
  let serverName: string | undefined;
  while (p < end) {
    if (p + 4 > end) return { kind: 'invalid', reason: 'truncated extension' };
    const type = u16();
    const length = u16();
    if (p + length > end) return { kind: 'invalid', reason: 'extension overruns ClientHello' };
    const extEnd = p + length;
    if (type === EXT_SERVER_NAME) {
      if (serverName !== undefined) return { kind: 'invalid', reason: 'duplicate server_name' };
      if (p + 2 > extEnd) return { kind: 'invalid', reason: 'truncated server_name list' };
      const listLength = u16();
      if (p + listLength !== extEnd) return { kind: 'invalid', reason: 'bad server_name list' };
      while (p < extEnd) {
        if (p + 3 > extEnd) return { kind: 'invalid', reason: 'truncated server name' };
        const nameType = u8();
        const nameLength = u16();
        if (p + nameLength > extEnd) return { kind: 'invalid', reason: 'server name overruns' };
        const bytes = rec.subarray(p, p + nameLength);
        p += nameLength;
        if (nameType !== NAME_TYPE_HOST) continue;
        if (serverName !== undefined) return { kind: 'invalid', reason: 'several host names' };
        // Host names in SNI are ASCII (A-labels); anything else is refused rather than decoded.
        for (const b of bytes) {
          if (b < 0x21 || b > 0x7e) return { kind: 'invalid', reason: 'non-ASCII server name' };
        }
        serverName = String.fromCharCode(...bytes);
      }
    }
    p = extEnd;
  }
  return serverName === undefined ? { kind: 'no_sni' } : { kind: 'ok', serverName };
}
