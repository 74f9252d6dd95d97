/**
 * Shapes that cross the RPC boundary: manifests, notes, files, search hits, audit entries. Plain
 * JSON (plus ArrayBuffer for file content), so the structured clone of postMessage carries them.
 */
import type { Capability } from './capabilities.js';

/** A module's manifest (`manifest.json`). Validated by the shell and the daemon at install. */
export interface ModuleManifest {
  /** Lower-case id, `[a-z][a-z0-9-]{1,39}`, unique per vault. */
  readonly id: string;
  readonly name: string;
  /** Semantic version `x.y.z`. */
  readonly version: string;
  /** The script file the bundle was built from (e.g. `main.js`). */
  readonly entry: string;
  /** What the module asks for; the user grants a subset at install. */
  readonly capabilities: readonly Capability[];
  readonly description?: string;
}

/** A note as modules see it. Times are ms since the epoch. */
export interface NoteView {
  readonly id: string;
  readonly title: string;
  readonly body: string;
  readonly tags: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly revision: number;
}

/** A file's metadata. `size` in bytes. */
export interface FileView {
  readonly id: string;
  readonly name: string;
  readonly size: number;
  readonly mime: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One search hit; `snippet` marks matched words between [ and ]. */
export interface SearchHitView {
  readonly kind: 'note' | 'file';
  readonly id: string;
  readonly title: string;
  readonly snippet: string;
}

/** One audit-log entry. */
export interface AuditEntryView {
  readonly at: number;
  readonly action: string;
  readonly subject?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** What the Security Center shows. */
export interface SecurityStatusView {
  readonly vaultId: string;
  readonly format: number;
  readonly createdAt: number;
  readonly counter: number;
  readonly unlockers: readonly { id: string; kind: string; label: string; createdAt: number }[];
  readonly integrity: {
    readonly ok: boolean;
    readonly checkedAt: number;
    readonly objects: number;
    readonly chunks: number;
    readonly problems: readonly { region: string; subject: string; message: string }[];
  };
  readonly alerts: readonly { at: number; kind: string; message: string }[];
}
