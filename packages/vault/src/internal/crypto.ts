/**
 * Thin, typed wrappers over libsodium (sodium-native) and Node's HKDF. Every key lives in sodium's
 * secure memory (guard pages, mlock'd, never swapped where the OS allows) and is wiped on release.
 */
import { hkdfSync } from 'node:crypto';
import sodium from 'sodium-native';

/** Bytes of an XChaCha20-Poly1305 nonce. */
export const NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
/** Bytes of a Poly1305 tag. */
export const TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES;
/** Bytes of every symmetric key in the vault. */
export const KEY_BYTES = 32;

/** A key in secure memory. */
export type SecretKey = Buffer & { readonly secure?: true };

/** Allocates `n` bytes of secure memory. */
export function secureAlloc(n: number): SecretKey {
  // SECURITY: sodium_malloc places the buffer between guard pages and mlock()s it, so key material
  // is not swapped to disk where the kernel honours the lock.
  return sodium.sodium_malloc(n);
}

/** Wipes a buffer (secure or not). */
export function wipe(buf: Uint8Array | undefined): void {
  // SECURITY: sodium_memzero cannot be optimised away, unlike fill(0).
  if (buf) sodium.sodium_memzero(buf);
}

/** Random bytes from the OS CSPRNG. */
export function randomBytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  sodium.randombytes_buf(b);
  return b;
}

/** A fresh random 32-byte key in secure memory. */
export function randomKey(): SecretKey {
  const k = secureAlloc(KEY_BYTES);
  sodium.randombytes_buf(k);
  return k;
}

/** Constant-time equality of two byte strings of equal length (false when lengths differ). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  // SECURITY: constant time, so MAC comparisons leak no timing about where they differ.
  return a.length === b.length && sodium.sodium_memcmp(a, b);
}

/**
 * Seals `plain` with XChaCha20-Poly1305 under `key`, binding `ad`. Returns nonce || ciphertext || tag.
 */
export function seal(plain: Uint8Array, ad: Uint8Array, key: SecretKey): Buffer {
  const out = Buffer.allocUnsafe(NONCE_BYTES + plain.length + TAG_BYTES);
  const nonce = out.subarray(0, NONCE_BYTES);
  // SECURITY: 192-bit random nonces make nonce reuse negligible even for billions of records under
  // one key, so no nonce state has to survive crashes.
  sodium.randombytes_buf(nonce);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    out.subarray(NONCE_BYTES),
    plain,
    ad,
    null,
    nonce,
    key,
  );
  return out;
}

/** Opens what {@link seal} made; returns undefined when authentication fails. */
export function open(sealed: Uint8Array, ad: Uint8Array, key: SecretKey): Buffer | undefined {
  // SECURITY: values read from a damaged file may not be byte strings at all; never hand them to
  // native code, which would crash instead of failing.
  if (!(sealed instanceof Uint8Array)) return undefined;
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return undefined;
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const c = sealed.subarray(NONCE_BYTES);
  const m = Buffer.allocUnsafe(c.length - TAG_BYTES);
  try {
    // SECURITY: the tag covers ciphertext and `ad`; a single flipped bit makes this throw, and the
    // partially decrypted output is never returned.
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(m, null, c, ad, nonce, key);
    return m;
  } catch {
    wipe(m);
    return undefined;
  }
}

/** BLAKE2b of `parts` (optionally keyed), `bytes` long (16..64). */
export function hash(parts: readonly Uint8Array[], bytes = 32, key?: SecretKey): Buffer {
  for (const p of parts) {
    if (!(p instanceof Uint8Array)) throw new TypeError('hash input is not a byte string');
  }
  const out = Buffer.allocUnsafe(bytes);
  sodium.crypto_generichash_batch(out, parts as Uint8Array[], key ?? null);
  return out;
}

/** Derives subkey number `id` for `context` (8 ASCII chars) from `master`, in secure memory. */
export function deriveSubkey(master: SecretKey, id: number, context: string): SecretKey {
  const sub = secureAlloc(KEY_BYTES);
  // SECURITY: BLAKE2b-based KDF: subkeys are independent, so the record, index, header and chain keys
  // cannot be used to learn each other or the data key.
  sodium.crypto_kdf_derive_from_key(sub, id, Buffer.from(context.padEnd(8).slice(0, 8)), master);
  return sub;
}

/** Argon2id key-derivation parameters as stored in a passphrase slot. */
export interface Argon2Params {
  readonly alg: 'argon2id13';
  /** Passes over memory (Argon2 t). */
  readonly opslimit: number;
  /** Memory in bytes (Argon2 m). */
  readonly memlimit: number;
  /** Lanes (Argon2 p). libsodium always computes with 1 lane. */
  readonly parallelism: 1;
}

/** Derives a 32-byte key from a passphrase with Argon2id, into secure memory. */
export function argon2id(passphrase: Uint8Array, salt: Uint8Array, p: Argon2Params): SecretKey {
  const out = secureAlloc(KEY_BYTES);
  sodium.crypto_pwhash(
    out,
    passphrase,
    salt,
    p.opslimit,
    p.memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
  return out;
}

/** Bytes of an Argon2 salt. */
export const PWHASH_SALT_BYTES = sodium.crypto_pwhash_SALTBYTES;

/**
 * HKDF-SHA256 (RFC 5869) of `ikm`, into secure memory. Node's result is copied and wiped.
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): SecretKey {
  const raw = Buffer.from(hkdfSync('sha256', ikm, salt, info, KEY_BYTES));
  const out = secureAlloc(KEY_BYTES);
  raw.copy(out);
  // SECURITY: the copy Node made outside secure memory is wiped at once.
  wipe(raw);
  return out;
}
