/**
 * The host-mode registry: a plain SQLite file (WAL), one row per record and per event, each stored
 * as JSON beside the columns queries need. Personal mode keeps the registry inside the vault instead
 * (implemented by the daemon), because records are user data there.
 */
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3-multiple-ciphers';
import type { Disposable } from '@virtos/core';
import { OrchestratorErrors } from '../common/errors.js';
import type { RegistryStore } from '../common/store.js';
import type { EnvironmentEvent, EnvironmentRecord } from '../common/types.js';

const SCHEMA_VERSION = 1;

/** A {@link RegistryStore} in a SQLite file; calls are synchronous underneath (better-sqlite3). */
export class SqliteRegistryStore implements RegistryStore, Disposable {
  private readonly db: Database.Database;
  private readonly stmts: {
    get: Database.Statement<[string], { json: string }>;
    list: Database.Statement<[], { json: string }>;
    put: Database.Statement<[string, string, string, number, string]>;
    del: Database.Statement<[string]>;
    delEvents: Database.Statement<[string]>;
    append: Database.Statement<[string, number, string]>;
    events: Database.Statement<[string, number], { json: string }>;
  };

  /** Opens (creating when absent) the registry at `path`; `:memory:` for a throwaway one. */
  constructor(readonly path: string) {
    try {
      this.db = new Database(path);
      if (path !== ':memory:') {
        // SECURITY: records name owners and environments; only the daemon's user may read them.
        chmodSync(path, 0o600);
        this.db.pragma('journal_mode = WAL');
      }
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw OrchestratorErrors.create(
          'store_failed',
          `The registry ${path} has schema version ${version}; this VirtOS knows up to ${SCHEMA_VERSION}.`,
          {
            subject: path,
            hint: 'Use a newer VirtOS, or move the file away to start an empty registry.',
          },
        );
      }
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS records (
          id TEXT PRIMARY KEY,
          owner TEXT NOT NULL,
          state TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          json TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS records_created ON records (created_at, id);
        CREATE TABLE IF NOT EXISTS events (
          env_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          json TEXT NOT NULL,
          PRIMARY KEY (env_id, seq)
        ) WITHOUT ROWID;
      `);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      this.stmts = {
        get: this.db.prepare('SELECT json FROM records WHERE id = ?'),
        list: this.db.prepare('SELECT json FROM records ORDER BY created_at, id'),
        put: this.db.prepare(
          'INSERT INTO records (id, owner, state, created_at, json) VALUES (?, ?, ?, ?, ?) ' +
            'ON CONFLICT(id) DO UPDATE SET owner = excluded.owner, state = excluded.state, ' +
            'created_at = excluded.created_at, json = excluded.json',
        ),
        del: this.db.prepare('DELETE FROM records WHERE id = ?'),
        delEvents: this.db.prepare('DELETE FROM events WHERE env_id = ?'),
        append: this.db.prepare('INSERT INTO events (env_id, seq, json) VALUES (?, ?, ?)'),
        events: this.db.prepare(
          'SELECT json FROM events WHERE env_id = ? AND seq > ? ORDER BY seq',
        ),
      };
    } catch (e) {
      if (OrchestratorErrors.is(e)) throw e;
      throw OrchestratorErrors.create(
        'store_failed',
        `Cannot open the registry ${path}: ${(e as Error).message}`,
        {
          subject: path,
          cause: e,
          hint: 'Check that the directory exists and is writable by the daemon user.',
        },
      );
    }
  }

  async get(id: string): Promise<EnvironmentRecord | undefined> {
    const row = this.stmts.get.get(id);
    return row ? (JSON.parse(row.json) as EnvironmentRecord) : undefined;
  }

  async list(): Promise<EnvironmentRecord[]> {
    return this.stmts.list.all().map((r) => JSON.parse(r.json) as EnvironmentRecord);
  }

  async put(record: EnvironmentRecord): Promise<void> {
    this.stmts.put.run(
      record.id,
      record.owner,
      record.state,
      record.createdAt,
      JSON.stringify(record),
    );
  }

  async delete(id: string): Promise<void> {
    this.db.transaction(() => {
      this.stmts.delEvents.run(id);
      this.stmts.del.run(id);
    })();
  }

  async appendEvent(event: EnvironmentEvent): Promise<void> {
    this.stmts.append.run(event.envId, event.seq, JSON.stringify(event));
  }

  async events(id: string, sinceSeq = 0): Promise<EnvironmentEvent[]> {
    return this.stmts.events.all(id, sinceSeq).map((r) => JSON.parse(r.json) as EnvironmentEvent);
  }

  /** Closes the file. */
  close(): void {
    if (this.db.open) this.db.close();
  }

  dispose(): void {
    this.close();
  }
}
