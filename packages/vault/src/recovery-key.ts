/**
 * Printable recovery keys: 240 random bits in Crockford base32 (no I, L, O, U), 12 groups of four,
 * then one group of four check characters so a typo is told apart from a wrong key.
 */
import { hash, randomBytes } from './internal/crypto.js';
import { VaultErrors } from './errors.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Random bytes in a recovery key (240 bits). */
export const RECOVERY_KEY_BYTES = 30;

function encode32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function decode32(text: string): Buffer | undefined {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}

function checkChars(secret: Uint8Array): string {
  return encode32(hash([Buffer.from('vtos1/recovery-check'), secret], 16)).slice(0, 4);
}

/** Formats 30 secret bytes as a printable recovery key. */
export function formatRecoveryKey(secret: Uint8Array): string {
  if (secret.length !== RECOVERY_KEY_BYTES) {
    throw VaultErrors.create(
      'invalid_argument',
      `A recovery key holds ${RECOVERY_KEY_BYTES} bytes.`,
    );
  }
  const body = encode32(secret) + checkChars(secret);
  return body.match(/.{4}/g)!.join('-');
}

/** Makes a fresh random recovery key secret. */
export function newRecoveryKeySecret(): Buffer {
  return randomBytes(RECOVERY_KEY_BYTES);
}

/**
 * Parses a recovery key typed by a person: case, spaces and dashes do not matter, and the easily
 * confused letters I, L (as 1) and O (as 0) are accepted. Throws `vault.invalid_recovery_key` on a
 * typo.
 */
export function parseRecoveryKey(text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  const bad = () =>
    VaultErrors.create('invalid_recovery_key', 'The recovery key has a typo.', {
      hint: 'It is 13 groups of 4 characters, e.g. ABCD-EFGH-...; check each group.',
    });
  if (clean.length !== 52) throw bad();
  const secret = decode32(clean.slice(0, 48));
  if (!secret || secret.length !== RECOVERY_KEY_BYTES) throw bad();
  if (checkChars(secret) !== clean.slice(48)) throw bad();
  return secret;
}
