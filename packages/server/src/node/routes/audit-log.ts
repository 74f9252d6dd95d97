/**
 * The audit log: security-relevant events (module installs and grants, enable/disable/remove,
 * integrity alerts) as sealed records of the vault, so the log is encrypted and covered by the
 * vault's integrity chain like everything else.
 */
import { randomBytes } from 'node:crypto';
import type { Vault } from '@virtos/vault';

/** The vault records collection of the audit log (key: `<ms, 15 digits>-<random>`). */
export const AUDIT_COLLECTION = 'audit';

/** One audit entry. `at` in ms since the epoch. */
export interface AuditEntry {
  readonly at: number;
  readonly action: string;
  readonly subject?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Appends one entry (one vault commit). */
export async function appendAudit(
  vault: Vault,
  entry: Omit<AuditEntry, 'at'>,
  now: number = Date.now(),
): Promise<void> {
  const key = `${String(now).padStart(15, '0')}-${randomBytes(4).toString('hex')}`;
  await vault.records(AUDIT_COLLECTION).set(key, { at: now, ...entry });
}

/** The newest `limit` entries, newest first. */
export function listAudit(vault: Vault, limit = 200): AuditEntry[] {
  return vault
    .records(AUDIT_COLLECTION)
    .entries<AuditEntry>()
    .sort((a, b) => (a.key < b.key ? 1 : -1))
    .slice(0, limit)
    .map((e) => e.value);
}
