/**
 * What the user-data routes (notes, files, search, settings, audit, modules) need: the unlocked
 * vault of the session. They get it per request, so a request after a lock fails with
 * `server.locked` instead of touching wiped keys.
 */
import { z } from 'zod';
import type { Vault } from '@virtos/vault';

/** Access to the vault behind the session. */
export interface VaultAccess {
  /** The unlocked vault; throws `server.locked` / `server.no_vault` otherwise. */
  currentVault(): Vault;
}

/** Ids of notes and files (`note_…`, `file_…`). */
export const ItemId = z
  .string()
  .min(1)
  .max(80)
  .regex(/^[A-Za-z0-9_-]+$/, 'an id: letters, digits, _ and -');
/** Params with one `id`. */
export const IdParams = z.object({ id: ItemId });
/** Keys of settings and module data. */
export const KeyName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9._:-]+$/, 'a key: letters, digits, . _ : and -');
