/**
 * The orchestrator's registry inside the unlocked vault (personal mode): environment records and
 * their event history are user state, so they are sealed records of the vault like notes are.
 * Reads are served from a decrypted copy in memory (loaded once at unlock, kept current by the
 * writes), so listing and getting cost no decryption; every write is one vault commit.
 */
import { OrchestratorErrors } from '@virtos/orchestrator';
import type { EnvironmentEvent, EnvironmentRecord, RegistryStore } from '@virtos/orchestrator';
import type { Vault } from '@virtos/vault';

/** The vault collection of environment records (key: environment id). */
export const RECORDS_COLLECTION = 'orchestrator.registry';
/** The vault collection of events (key: `<envId>/<seq, 10 digits>`). */
export const EVENTS_COLLECTION = 'orchestrator.events';

function eventKey(envId: string, seq: number): string {
  return `${envId}/${String(seq).padStart(10, '0')}`;
}

/** A {@link RegistryStore} over the vault's generic records. */
export class VaultRegistryStore implements RegistryStore {
  private readonly records = new Map<string, EnvironmentRecord>();
  private readonly history = new Map<string, EnvironmentEvent[]>();

  /** Loads every record and event of the (unlocked) vault into memory. */
  constructor(private readonly vault: Vault) {
    for (const { value } of vault.records(RECORDS_COLLECTION).entries<EnvironmentRecord>()) {
      this.records.set(value.id, value);
    }
    for (const { value } of vault.records(EVENTS_COLLECTION).entries<EnvironmentEvent>()) {
      const list = this.history.get(value.envId) ?? [];
      list.push(value);
      this.history.set(value.envId, list);
    }
    for (const list of this.history.values()) list.sort((a, b) => a.seq - b.seq);
  }

  async get(id: string): Promise<EnvironmentRecord | undefined> {
    const r = this.records.get(id);
    return r && structuredClone(r);
  }

  async list(): Promise<EnvironmentRecord[]> {
    return [...this.records.values()]
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((r) => structuredClone(r));
  }

  async put(record: EnvironmentRecord): Promise<void> {
    const copy = structuredClone(record);
    await this.guard('write', record.id, () =>
      this.vault.records(RECORDS_COLLECTION).set(record.id, copy),
    );
    this.records.set(record.id, copy);
  }

  async delete(id: string): Promise<void> {
    const events = this.history.get(id) ?? [];
    // One commit: the record and its history go together or not at all.
    await this.guard('delete', id, () =>
      this.vault.transaction((tx) => {
        tx.records(RECORDS_COLLECTION).delete(id);
        const ev = tx.records(EVENTS_COLLECTION);
        for (const e of events) ev.delete(eventKey(id, e.seq));
      }),
    );
    this.records.delete(id);
    this.history.delete(id);
  }

  async appendEvent(event: EnvironmentEvent): Promise<void> {
    const list = this.history.get(event.envId) ?? [];
    const last = list[list.length - 1];
    if (last && last.seq >= event.seq) {
      throw OrchestratorErrors.create(
        'store_failed',
        `Event ${event.envId}#${event.seq} is not after #${last.seq}.`,
        { subject: event.envId },
      );
    }
    const copy = structuredClone(event);
    // Reserve the slot before the commit resolves, so two appends cannot both pass the check.
    list.push(copy);
    this.history.set(event.envId, list);
    try {
      await this.guard('write', event.envId, () =>
        this.vault.records(EVENTS_COLLECTION).set(eventKey(event.envId, event.seq), copy),
      );
    } catch (e) {
      const i = list.indexOf(copy);
      if (i >= 0) list.splice(i, 1);
      throw e;
    }
  }

  async events(id: string, sinceSeq = 0): Promise<EnvironmentEvent[]> {
    return (this.history.get(id) ?? [])
      .filter((e) => e.seq > sinceSeq)
      .map((e) => structuredClone(e));
  }

  private async guard<T>(what: string, id: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw OrchestratorErrors.create(
        'store_failed',
        `Could not ${what} the registry entry of ${id} in the vault: ${e instanceof Error ? e.message : String(e)}`,
        { subject: id, cause: e, hint: 'Is the vault unlocked? virtos vault verify checks it.' },
      );
    }
  }
}
