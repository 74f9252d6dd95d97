/**
 * The full-text index over notes and file names: an FTS5 table in a private in-memory SQLite
 * database, built from decrypted records after unlock and dropped on lock.
 */
import Database from 'better-sqlite3-multiple-ciphers';

/** One search hit. */
export interface SearchHit {
  readonly kind: 'note' | 'file';
  readonly id: string;
  readonly title: string;
  /** A short excerpt with the matched words between [ and ]. */
  readonly snippet: string;
}

/** Turns free text into an FTS5 query: every word must match (as a prefix), quotes escaped. */
export function toFtsQuery(text: string): string | undefined {
  const words = text.match(/[\p{L}\p{N}_]+/gu) ?? [];
  if (words.length === 0) return undefined;
  return words.map((w) => `"${w.replace(/"/g, '""')}"*`).join(' AND ');
}

/** The in-memory index. */
export class SearchIndex {
  // SECURITY: ':memory:' plus temp_store=MEMORY: the index of decrypted text never touches disk.
  private readonly db = new Database(':memory:');
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly queryStmt;
  /** ref -> rowid, so replacing a document does not scan the table. */
  private readonly rowids = new Map<string, number | bigint>();

  constructor() {
    this.db.pragma('temp_store = MEMORY');
    this.db.exec(
      "CREATE VIRTUAL TABLE docs USING fts5(kind UNINDEXED, ref UNINDEXED, title, body, tags, tokenize = 'unicode61 remove_diacritics 2')",
    );
    this.deleteStmt = this.db.prepare('DELETE FROM docs WHERE rowid = ?');
    this.upsertStmt = this.db.prepare(
      'INSERT INTO docs (kind, ref, title, body, tags) VALUES (?, ?, ?, ?, ?)',
    );
    this.queryStmt = this.db.prepare(
      "SELECT kind, ref, title, snippet(docs, 3, '[', ']', '…', 12) AS snip FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0, 0, 4, 1, 2) LIMIT ?",
    );
  }

  /** Adds or replaces a document. */
  upsert(kind: 'note' | 'file', ref: string, title: string, body: string, tags: string): void {
    this.remove(ref);
    this.rowids.set(ref, this.upsertStmt.run(kind, ref, title, body, tags).lastInsertRowid);
  }

  /** Removes a document. */
  remove(ref: string): void {
    const rowid = this.rowids.get(ref);
    if (rowid === undefined) return;
    this.deleteStmt.run(rowid);
    this.rowids.delete(ref);
  }

  /** Runs many updates in one in-memory transaction (for the initial build). */
  batch(fn: () => void): void {
    this.db.transaction(fn)();
  }

  /** Best matches first. */
  query(text: string, limit: number): SearchHit[] {
    const q = toFtsQuery(text);
    if (q === undefined) return [];
    const rows = this.queryStmt.all(q, limit) as {
      kind: 'note' | 'file';
      ref: string;
      title: string;
      snip: string;
    }[];
    return rows.map((r) => ({
      kind: r.kind,
      id: r.ref,
      title: r.title,
      snippet: r.snip || r.title,
    }));
  }

  /** Frees the in-memory database. */
  dispose(): void {
    this.db.close();
  }
}
