/**
 * Ids: short, random, URL-safe, with a prefix that says what they name (`env_…`, `note_…`).
 * Uses the Web Crypto random source, so it runs in Node and in the browser alike.
 */

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lowercase

/** Number of random characters in an id: 16 × 5 bits = 80 bits of randomness. */
export const ID_RANDOM_CHARS = 16;

/** Makes a new id `<prefix>_<16 base32 chars>`. */
export function newId(prefix: string): string {
  if (!/^[a-z][a-z0-9]{0,15}$/.test(prefix)) {
    throw new Error(`Invalid id prefix '${prefix}': use 1-16 lowercase letters or digits.`);
  }
  const bytes = new Uint8Array(ID_RANDOM_CHARS);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return `${prefix}_${out}`;
}

/** True when `id` has the shape of an id made by {@link newId} with `prefix`. */
export function isId(id: string, prefix?: string): boolean {
  const m = /^([a-z][a-z0-9]{0,15})_([0-9a-hjkmnp-tv-z]{16})$/.exec(id);
  return m !== null && (prefix === undefined || m[1] === prefix);
}
