// The subset of sodium-native (libsodium bindings, no bundled types) that the vault uses.
declare module 'sodium-native' {
  type Buf = Buffer | Uint8Array;
  interface SecureBuffer extends Buffer {
    readonly secure: true;
  }
  const sodium: {
    sodium_malloc(size: number): SecureBuffer;
    sodium_free(buf: Buf): void;
    sodium_memzero(buf: Buf): void;
    sodium_memcmp(a: Buf, b: Buf): boolean;
    sodium_mlock(buf: Buf): void;
    randombytes_buf(buf: Buf): void;
    crypto_aead_xchacha20poly1305_ietf_ABYTES: number;
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number;
    crypto_aead_xchacha20poly1305_ietf_KEYBYTES: number;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
      c: Buf,
      m: Buf,
      ad: Buf | null,
      nsec: null,
      npub: Buf,
      k: Buf,
    ): number;
    crypto_aead_xchacha20poly1305_ietf_decrypt(
      m: Buf,
      nsec: null,
      c: Buf,
      ad: Buf | null,
      npub: Buf,
      k: Buf,
    ): number;
    crypto_generichash(out: Buf, input: Buf, key?: Buf | null): void;
    crypto_generichash_batch(out: Buf, inputs: Buf[], key?: Buf | null): void;
    crypto_kdf_derive_from_key(subkey: Buf, subkeyId: number, ctx: Buf, key: Buf): void;
    crypto_kdf_CONTEXTBYTES: number;
    crypto_pwhash(
      out: Buf,
      passwd: Buf,
      salt: Buf,
      opslimit: number,
      memlimit: number,
      alg: number,
    ): void;
    crypto_pwhash_ALG_ARGON2ID13: number;
    crypto_pwhash_SALTBYTES: number;
  };
  export default sodium;
}
