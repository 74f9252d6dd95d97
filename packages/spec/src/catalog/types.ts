/**
 * Types of the catalog: GenOS's knowledge of distributions, applications, presets and the things it
 * can never provide. The catalog is data; the composer reads it, it never reads the composer.
 */
import type { Capability, Display, Distro, NetworkMode, RuntimeClass } from '../schema.js';

/** How root filesystems of a distro are built. */
export type BuilderKind = 'mmdebstrap' | 'apk' | 'dnf' | 'pacstrap';

/** One release of a distro. */
export interface ReleaseEntry {
  /** The id used in `base.release` (`bookworm`, `24.04`, `3.20`, `40`, `rolling`). */
  readonly id: string;
  /** Other words for it: version numbers, codenames (`12`, `noble`). Lowercase. */
  readonly aliases: readonly string[];
  /** Long-term support or the distro's current stable. */
  readonly isDefault?: boolean;
}

/** A distribution GenOS knows. */
export interface DistroEntry {
  readonly id: Distro;
  readonly name: string;
  /** Words people use for it (`debian`, `deb`), lowercase. */
  readonly aliases: readonly string[];
  readonly releases: readonly ReleaseEntry[];
  readonly builder: BuilderKind;
  /** The package mirror the builder needs (a host name). */
  readonly mirror: string;
  /**
   * Whether this kind of installation can build it by default. Hosts re-check at run time (the
   * composer takes an availability function); this is the default when nothing has been probed.
   */
  readonly availability: Availability;
}

/** Whether something can be provided here, and if not why. */
export type Availability =
  { readonly available: true } | { readonly available: false; readonly reason: string };

/** What an application needs to be useful. */
export type AppInterface = 'gui' | 'cli' | 'service';

/** What network an application needs. */
export type AppNetworkNeed = 'none' | 'optional' | 'required' | 'tor';

/** An application of the catalog. */
export interface AppEntry {
  /** Lowercase catalog id, the `apps[].id` of a spec (`firefox`, `tor-browser`). */
  readonly id: string;
  /** Display name. */
  readonly name: string;
  /** Other names of this very app (`ff`, `mozilla firefox`), lowercase. */
  readonly aliases: readonly string[];
  /**
   * Words and phrases people use when they want this kind of app (`web browser`, `photo editing`,
   * `pdf viewer`), lowercase. Shared words across apps make an ambiguity or pick the `isDefaultFor`.
   */
  readonly keywords: readonly string[];
  /** A coarse category (`browser`, `office`, `graphics`, `development`, ...). */
  readonly category: string;
  /** Packages per distro; a missing distro means the app is not packaged there. */
  readonly packages: Readonly<Partial<Record<Distro, readonly string[]>>>;
  readonly interface: AppInterface;
  readonly network: AppNetworkNeed;
  /** Domains the app typically needs in allowlist mode (`*.mozilla.org` is never implied). */
  readonly domains?: readonly string[];
  /** Sensible minimum resources for the app (MiB, cores). */
  readonly resources?: {
    readonly memoryMiB?: number;
    readonly cpus?: number;
    readonly diskMiB?: number;
  };
  /** Needs a GPU to be useful. */
  readonly needsGpu?: boolean;
  /** Needs a runtime class of at least this strength (e.g. `vm` for docker or kernel modules). */
  readonly minRuntime?: RuntimeClass;
  /** Capabilities it cannot work without. */
  readonly capabilities?: readonly Capability[];
  /** Keywords for which this app is the one picked without asking (`browser` -> firefox). */
  readonly isDefaultFor?: readonly string[];
}

/** Something that can never be provided, with the reason and what to use instead. */
export interface UnprovidableEntry {
  readonly id: string;
  readonly name: string;
  /** Lowercase names and phrases people use for it. */
  readonly aliases: readonly string[];
  readonly reason: string;
  /** Catalog app ids of the closest alternatives, best first. */
  readonly alternatives: readonly string[];
  /**
   * True when the first alternative is close enough to put in its place without asking (Chrome ->
   * Chromium): the composer adds it with a `substitution` finding. False (Photoshop -> GIMP): the
   * composer reports `unsupported` and offers the alternatives.
   */
  readonly autoSubstitute: boolean;
  /** What it is: Windows or macOS software, or a proprietary program no distro ships. */
  readonly kind: 'windows' | 'macos' | 'proprietary' | 'service';
}

/** A named bundle of apps and settings people ask for by purpose (`web development`). */
export interface PresetEntry {
  readonly id: string;
  readonly name: string;
  /** Lowercase phrases that name the preset. */
  readonly keywords: readonly string[];
  readonly apps: readonly string[];
  readonly display?: Display;
  readonly network?: NetworkMode;
  readonly resources?: {
    readonly memoryMiB?: number;
    readonly cpus?: number;
    readonly diskMiB?: number;
  };
}

/** The whole catalog. */
export interface Catalog {
  readonly distros: readonly DistroEntry[];
  readonly apps: readonly AppEntry[];
  readonly presets: readonly PresetEntry[];
  readonly unprovidable: readonly UnprovidableEntry[];
}
