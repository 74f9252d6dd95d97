/**
 * The closed set of vault error codes. Callers branch on the code; people read the message and hint.
 */
import { defineErrors } from '@virtos/core';

/** Errors raised by the vault (`vault.<code>`). */
export const VaultErrors = defineErrors('vault', {
  /** No passphrase slot opened with the given passphrase. */
  wrong_passphrase: 'permission_denied',
  /** The recovery key is well-formed but opens no recovery slot. */
  wrong_recovery_key: 'permission_denied',
  /** The passkey PRF output opens no passkey slot. */
  wrong_passkey: 'permission_denied',
  /** The recovery key has a typo (its check characters do not match). */
  invalid_recovery_key: 'invalid_argument',
  /** The operation needs the data key and the vault is locked. */
  locked: 'failed_precondition',
  /** The vault was closed; open it again. */
  closed: 'failed_precondition',
  /** A region failed authentication or structural checks; `details.region` names it. */
  corrupt: 'failed_precondition',
  /** The file is shorter than its own header says. */
  truncated: 'failed_precondition',
  /** The file is not a VirtOS vault. */
  foreign_file: 'invalid_argument',
  /** The file is a vault of a newer format than this build understands. */
  unsupported_version: 'failed_precondition',
  /** The vault is older than the last one this device saw, or a different history. */
  rolled_back: 'failed_precondition',
  /** No vault file at the path. */
  not_found: 'not_found',
  /** A vault file already exists at the path. */
  already_exists: 'already_exists',
  /** No such note, file, record or unlocker. */
  no_such_item: 'not_found',
  /** Removing this unlocker would leave the vault without any. */
  last_unlocker: 'failed_precondition',
  /** Key-derivation parameters below the floor of RFC 9106's second recommendation. */
  weak_kdf: 'invalid_argument',
  /** A transfer copy does not match its manifest. */
  manifest_mismatch: 'failed_precondition',
  /** A caller passed something the vault cannot use. */
  invalid_argument: 'invalid_argument',
});

/** A code of {@link VaultErrors}, without the `vault.` prefix. */
export type VaultErrorCode = keyof typeof VaultErrors.codes;
