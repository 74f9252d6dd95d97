/**
 * @module @virtos/vault
 * The vault: one encrypted file that holds all of a user's data and state. A random data key is
 * wrapped by several unlockers (passphrase with Argon2id, passkey PRF, printable recovery key);
 * records and 1 MiB file chunks are sealed one by one with XChaCha20-Poly1305 inside an SQLite file;
 * every commit extends a keyed hash chain anchored in an authenticated header, so damage, tampering
 * and rollback are detected. Format and threat model: docs/vault-format.md.
 */
export { VaultErrors } from './errors.js';
export type { VaultErrorCode } from './errors.js';
export { DEFAULT_KDF, MIN_KDF, isKdfStrongEnough } from './unlockers.js';
export type { KdfParams, Unlocker, UnlockerInfo, UnlockerKind } from './unlockers.js';
export { formatRecoveryKey, parseRecoveryKey, RECOVERY_KEY_BYTES } from './recovery-key.js';
export { FORMAT_VERSION, CHUNK_BYTES } from './internal/format.js';
export { Vault, VaultTransaction, NotesApi, FilesApi, KeyValueApi } from './node/vault.js';
export type {
  DeviceHead,
  DeviceStore,
  FileInfo,
  FilePutOptions,
  FileSource,
  LockReason,
  Note,
  NoteInput,
  VaultChange,
  VaultCommitEvent,
  VaultOptions,
  VaultProblem,
  VaultStatus,
  VerifyReport,
} from './node/vault.js';
export type { SearchHit } from './internal/search.js';
export { FileDeviceStore, MemoryDeviceStore } from './node/device-store.js';
export { exportVault, importVault, fingerprintOf, manifestPathFor } from './node/transfer.js';
export type { TransferManifest, TransferResult } from './node/transfer.js';
