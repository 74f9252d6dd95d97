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

/** One finding of the composer (or the scheduler): what it noticed, and for a question, choices. */
export interface FindingView {
  readonly kind: string;
  /** True when the spec must not be provisioned as it is (ambiguity, conflict, unsupported). */
  readonly blocking: boolean;
  /** The spec field it is about (`network.mode`, `apps`) or `request`. */
  readonly field: string;
  readonly message: string;
  /** For a clarifying question: the answers a person can pick. */
  readonly options?: readonly { readonly value: string; readonly label: string }[];
  readonly code?: string;
}

/** `environments.compose`: the composed spec (null when nothing could be composed) and findings. */
export interface ComposeView {
  readonly ok: boolean;
  /** An EnvironmentSpec (docs/environment-spec.md), as plain JSON. */
  readonly spec: Record<string, unknown> | null;
  readonly findings: readonly FindingView[];
}

/** The states of an environment's lifecycle. */
export type EnvironmentState =
  'requested' | 'provisioning' | 'running' | 'suspended' | 'terminated' | 'failed';

/** An environment record as the daemon's API gives it. Times are ms since the epoch. */
export interface EnvironmentView {
  readonly id: string;
  readonly name: string;
  readonly state: EnvironmentState;
  readonly reason?: string;
  readonly spec: Record<string, unknown>;
  readonly findings: readonly FindingView[];
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly startedAt?: number;
  readonly runtime?: { readonly kind: string; readonly reason: string };
  /** Present while the environment has a display (desktops); width and height in pixels. */
  readonly display?: { readonly protocol: string; readonly width: number; readonly height: number };
}

/** One entry of an environment's history (a transition, a provisioning step, a warning). */
export interface EnvironmentEventView {
  /** Increases by one per environment. */
  readonly seq: number;
  readonly at: number;
  readonly envId: string;
  /** `transition`, `progress`, … */
  readonly type: string;
  readonly message: string;
  readonly from?: string;
  readonly to?: string;
  readonly data?: Readonly<Record<string, unknown>>;
}
