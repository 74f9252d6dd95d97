/**
 * The registry: where environment records and their event history live. Two implementations ship
 * here (in memory, and a plain SQLite file for host mode); the daemon adds one inside the unlocked
 * vault for personal mode. All of them pass {@link describeRegistryStoreSuite}.
 */
import type { EnvironmentEvent, EnvironmentRecord } from './types.js';

/**
 * Persists records and events. Implementations must return copies (a caller mutating a returned
 * record must not change the store) and keep events of one environment in `seq` order.
 */
export interface RegistryStore {
  /** The record, or undefined when there is none. */
  get(id: string): Promise<EnvironmentRecord | undefined>;
  /** Every record, oldest first (by `createdAt`, then id). */
  list(): Promise<EnvironmentRecord[]>;
  /** Inserts or replaces the record with this id. */
  put(record: EnvironmentRecord): Promise<void>;
  /** Removes the record and its events; no error for an unknown id. */
  delete(id: string): Promise<void>;
  /** Appends one event; a second event with the same (envId, seq) replaces nothing and is refused. */
  appendEvent(event: EnvironmentEvent): Promise<void>;
  /** The environment's events with `seq > sinceSeq` (all when omitted), in seq order. */
  events(id: string, sinceSeq?: number): Promise<EnvironmentEvent[]>;
}

/** A store in memory: for tests, and for an embedded one-shot run that keeps nothing. */
export class MemoryRegistryStore implements RegistryStore {
  private readonly records = new Map<string, EnvironmentRecord>();
  private readonly history = new Map<string, EnvironmentEvent[]>();

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
    this.records.set(record.id, structuredClone(record));
  }

  async delete(id: string): Promise<void> {
    this.records.delete(id);
    this.history.delete(id);
  }

  async appendEvent(event: EnvironmentEvent): Promise<void> {
    const list = this.history.get(event.envId) ?? [];
    const last = list[list.length - 1];
    if (last && last.seq >= event.seq) {
      throw new Error(`Event ${event.envId}#${event.seq} is not after #${last.seq}.`);
    }
    list.push(structuredClone(event));
    this.history.set(event.envId, list);
  }

  async events(id: string, sinceSeq = 0): Promise<EnvironmentEvent[]> {
    return (this.history.get(id) ?? [])
      .filter((e) => e.seq > sinceSeq)
      .map((e) => structuredClone(e));
  }
}
