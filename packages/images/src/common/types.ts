/**
 * The public shapes of the images package: what callers ask for (ImageRequest), what the cache holds
 * (LayerManifest, LayerInfo) and what `ensure` gives back (ResolvedImage). Pure data, no Node.
 */
import type { Display, Distro } from '@virtos/spec';

/** What an environment needs from its root file system. Packages are distro package names. */
export interface ImageRequest {
  readonly distro: Distro;
  /** The release id as the catalog names it (`bookworm`, `24.04`). */
  readonly release: string;
  /** `desktop` adds the desktop layer (Xvnc, window manager, fonts). */
  readonly display: Display;
  /** The apps' packages; an empty list means no apps layer. Order and duplicates do not matter. */
  readonly packages: readonly string[];
}

/** The three kinds of layers, lowest first. */
export type LayerKind = 'base' | 'desktop' | 'apps';

/** One package in a layer, as dpkg (or the distro's package manager) reports it. */
export interface LayerPackage {
  readonly name: string;
  readonly version: string;
}

/**
 * What the cache knows about one layer; stored as `manifest.json` beside the layer's tree. A layer
 * whose directory has no manifest is not a layer (a crashed build) and is never used.
 */
export interface LayerManifest {
  /** sha256 hex over the layer's inputs (see `computeLayerId`). */
  readonly id: string;
  readonly kind: LayerKind;
  /** The layer below, or null for a base layer. */
  readonly parent: string | null;
  readonly distro: Distro;
  readonly release: string;
  /**
   * Packages this layer installed or changed relative to its parent (for a base layer: all of them),
   * sorted by name.
   */
  readonly packages: readonly LayerPackage[];
  /** The packages that were asked for (the layer's input), sorted. */
  readonly requested: readonly string[];
  /** Apparent size of the layer's own tree in bytes (regular files and symlinks). */
  readonly sizeBytes: number;
  /** Number of entries (files, directories, links, whiteouts) in the layer's tree. */
  readonly entries: number;
  /** sha256 hex over the tree's paths, types, modes, owners and contents (see `hashTree`). */
  readonly treeHash: string;
  /** ISO 8601 time the build finished. */
  readonly createdAt: string;
  /** How long building the layer took, in milliseconds. */
  readonly buildMs: number;
  /** The builder and its version, e.g. `mmdebstrap/1.3.5`. Part of the layer id. */
  readonly builder: string;
}

/** A layer in the cache. */
export interface LayerInfo {
  readonly id: string;
  /** Absolute path of the directory holding the layer's tree; treat it as read-only. */
  readonly path: string;
  readonly manifest: LayerManifest;
}

/** What a layer's `ensure` did: reused from the cache or built now (and how long it took). */
export interface LayerOutcome {
  readonly id: string;
  readonly kind: LayerKind;
  readonly built: boolean;
  /** Build time in ms when built now; 0 when reused. */
  readonly buildMs: number;
}

/** A resolved image: the layers to stack, lowest (base) first. */
export interface ResolvedImage {
  /** The top layer's id: content-addressed, so equal requests get equal keys. The warm pool's key. */
  readonly key: string;
  readonly layers: readonly LayerInfo[];
  /** Per layer, whether it was built by this call and how long that took. Lowest first. */
  readonly outcomes: readonly LayerOutcome[];
}

/** One progress report of a build, parsed from the builder's output. */
export interface BuildProgress {
  /** The layer id being built (or `kind:shortid`). */
  readonly layer: string;
  /** `resolve`, `download`, `unpack`, `configure`, `manifest`, `done`, `reused`... */
  readonly phase: string;
  readonly packagesDone?: number;
  readonly packagesTotal?: number;
  /** Bytes downloaded so far by the package manager. */
  readonly bytes?: number;
  /** Milliseconds since this layer's build started. */
  readonly elapsedMs: number;
  readonly message?: string;
}

/** Options of {@link ImageStore.ensure}. */
export interface EnsureOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: BuildProgress) => void;
}

/** Result of verifying one layer. */
export interface VerifyResult {
  readonly id: string;
  readonly ok: boolean;
  readonly expected: string;
  readonly actual: string;
  /** Time the check took, in ms. */
  readonly ms: number;
}

/** Options of {@link ImageStore.prune}. */
export interface PruneOptions {
  /**
   * Image keys or layer ids to keep, with every layer below them. When absent, every layer that no
   * other layer depends on is a candidate (subject to `olderThanMs`).
   */
  readonly keep?: readonly string[];
  /** Remove only layers created more than this many ms ago. */
  readonly olderThanMs?: number;
  /** Report what would be removed without removing it. */
  readonly dryRun?: boolean;
}

/** The content-addressed layer cache. */
export interface ImageStore {
  /** The cache directory (absolute). */
  readonly cacheDir: string;
  /**
   * Returns the layers for `req`, building the missing ones (base, then desktop, then apps). A second
   * call with the same request builds nothing. Cancellable with `signal`: a cancelled build leaves no
   * layer behind.
   */
  ensure(req: ImageRequest, opts?: EnsureOptions): Promise<ResolvedImage>;
  /** Every complete layer in the cache, oldest first. */
  list(): Promise<LayerManifest[]>;
  /** Removes layers (see {@link PruneOptions}); returns the ids removed. */
  prune(opts?: PruneOptions): Promise<string[]>;
  /** Recomputes the tree hash of one layer (or all) and compares it with the manifest. */
  verify(id?: string): Promise<VerifyResult[]>;
  /** The layer with this id (or unique id prefix), or undefined. */
  get(id: string): Promise<LayerInfo | undefined>;
}
