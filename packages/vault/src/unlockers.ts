/**
 * Unlockers: the secrets that open key slots. Each key slot wraps the same random data key under a
 * key-encryption key (KEK) derived from one unlocker, so unlockers can be added, removed or changed
 * without touching the data.
 */
import { VaultErrors } from './errors.js';
import type { Argon2Params } from './internal/crypto.js';

/** The kinds of unlocker. */
export type UnlockerKind = 'passphrase' | 'passkey' | 'recovery';

/** A secret that opens the vault. Buffers passed in are wiped by the vault after use. */
export type Unlocker =
  | { readonly kind: 'passphrase'; readonly passphrase: string | Uint8Array }
  | {
      readonly kind: 'passkey';
      /** The 32-byte WebAuthn PRF output (`prf.results.first`). */
      readonly prfOutput: Uint8Array;
      /** The WebAuthn credential id (base64url), when known, to try its slot only. */
      readonly credentialId?: string;
    }
  | { readonly kind: 'recovery'; readonly recoveryKey: string };

/** Argon2id parameters for passphrase slots. */
export type KdfParams = Argon2Params;

/**
 * The default passphrase KDF: Argon2id, t=3, m=128 MiB, p=1. RFC 9106's second recommendation is
 * t=3, m=64 MiB, p=4; libsodium computes one lane only, so the memory is doubled: an attacker's
 * memory-time cost per guess is twice the RFC's, and our single-lane wall time (~0.3 s here) stays
 * usable on a 2-core machine.
 */
export const DEFAULT_KDF: KdfParams = {
  alg: 'argon2id13',
  opslimit: 3,
  memlimit: 128 * 1024 * 1024,
  parallelism: 1,
};

/** The floor below which passphrase slots are refused: RFC 9106 option 2's t=3 and m=64 MiB. */
export const MIN_KDF: KdfParams = {
  alg: 'argon2id13',
  opslimit: 3,
  memlimit: 64 * 1024 * 1024,
  parallelism: 1,
};

/** True when `p` is at or above {@link MIN_KDF}. */
export function isKdfStrongEnough(p: KdfParams): boolean {
  return p.opslimit >= MIN_KDF.opslimit && p.memlimit >= MIN_KDF.memlimit;
}

/** Checks KDF parameters; `allowWeak` exists for tests only. */
export function checkKdf(p: KdfParams, allowWeak: boolean): void {
  if (p.alg !== 'argon2id13' || !Number.isInteger(p.opslimit) || !Number.isInteger(p.memlimit)) {
    throw VaultErrors.create('weak_kdf', 'Unknown key-derivation parameters.');
  }
  if (!allowWeak && !isKdfStrongEnough(p)) {
    throw VaultErrors.create(
      'weak_kdf',
      `Argon2id t=${p.opslimit}, m=${p.memlimit >> 20} MiB is below the floor (t>=3, m>=64 MiB).`,
      { hint: 'Use the defaults (t=3, m=128 MiB).' },
    );
  }
}

/** A public description of a key slot (no secrets). */
export interface UnlockerInfo {
  readonly id: string;
  readonly kind: UnlockerKind;
  readonly label: string;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
  /** The KDF of a passphrase slot. */
  readonly kdf?: KdfParams;
  /** The credential id of a passkey slot (base64url). */
  readonly credentialId?: string;
  /** The PRF input (salt, base64url) the shell must pass to WebAuthn for a passkey slot. */
  readonly prfSalt?: string;
  /** False when the slot failed its checksum (damaged). */
  readonly isIntact: boolean;
}
