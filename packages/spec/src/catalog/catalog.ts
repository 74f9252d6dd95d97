/**
 * The catalog with its look-up indexes, and a check of its own consistency.
 */
import type { Distro } from '../schema.js';
import { APP_ENTRIES, PRESET_ENTRIES, UNPROVIDABLE_ENTRIES } from './data/index.js';
import { DISTRO_ENTRIES } from './distros.js';
import type {
  AppEntry,
  Availability,
  Catalog,
  DistroEntry,
  PresetEntry,
  ReleaseEntry,
  UnprovidableEntry,
} from './types.js';

/** The catalog shipped with VirtOS. */
export const defaultCatalog: Catalog = {
  distros: DISTRO_ENTRIES,
  apps: APP_ENTRIES,
  presets: PRESET_ENTRIES,
  unprovidable: UNPROVIDABLE_ENTRIES,
};

/** Tells whether a distro can be built here; hosts pass one from their probe. */
export type DistroAvailability = (distro: Distro) => Availability;

/** Read-only look-ups over a catalog, built once. */
export class CatalogIndex {
  private readonly appsById = new Map<string, AppEntry>();
  private readonly distrosById = new Map<Distro, DistroEntry>();
  private readonly presetsById = new Map<string, PresetEntry>();

  constructor(readonly catalog: Catalog = defaultCatalog) {
    for (const a of catalog.apps) this.appsById.set(a.id, a);
    for (const d of catalog.distros) this.distrosById.set(d.id, d);
    for (const p of catalog.presets) this.presetsById.set(p.id, p);
  }

  /** The app with this id, if any. */
  app(id: string): AppEntry | undefined {
    return this.appsById.get(id);
  }

  /** The distro with this id. */
  distro(id: Distro): DistroEntry {
    const d = this.distrosById.get(id);
    if (!d) throw new Error(`Catalog has no distro '${id}'.`);
    return d;
  }

  /** The preset with this id, if any. */
  preset(id: string): PresetEntry | undefined {
    return this.presetsById.get(id);
  }

  /** The default release of a distro. */
  defaultRelease(id: Distro): ReleaseEntry {
    const d = this.distro(id);
    const r = d.releases.find((x) => x.isDefault) ?? d.releases[0];
    if (!r) throw new Error(`Catalog distro '${id}' has no release.`);
    return r;
  }

  /** The release of `distro` named by `word` (id or alias), if any. */
  release(distro: Distro, word: string): ReleaseEntry | undefined {
    const w = word.toLowerCase();
    return this.distro(distro).releases.find((r) => r.id === w || r.aliases.includes(w));
  }

  /** The packages of `app` on `distro`, or undefined when it is not packaged there. */
  packagesFor(app: AppEntry, distro: Distro): readonly string[] | undefined {
    return app.packages[distro];
  }

  /** Unprovidable entries. */
  get unprovidable(): readonly UnprovidableEntry[] {
    return this.catalog.unprovidable;
  }
}

/** Default availability: what the catalog says, with no probe of the host. */
export function catalogAvailability(index: CatalogIndex): DistroAvailability {
  return (d) => index.distro(d).availability;
}

/**
 * Checks the catalog's own consistency: unique ids and aliases, references to existing apps, every
 * available distro packaging the apps. Returns the problems found (empty when consistent).
 */
export function checkCatalog(catalog: Catalog): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const a of catalog.apps) {
    if (ids.has(a.id)) problems.push(`duplicate app id '${a.id}'`);
    ids.add(a.id);
    if (!/^[a-z0-9][a-z0-9+.-]{0,63}$/.test(a.id)) problems.push(`bad app id '${a.id}'`);
    if (Object.keys(a.packages).length === 0) problems.push(`app '${a.id}' has no packages`);
    for (const w of [...a.aliases, ...a.keywords, ...(a.isDefaultFor ?? [])]) {
      if (w !== w.toLowerCase() || w.trim() !== w || w === '') {
        problems.push(`app '${a.id}': word '${w}' must be lowercase and trimmed`);
      }
    }
    for (const k of a.isDefaultFor ?? []) {
      if (!a.keywords.includes(k) && !a.aliases.includes(k)) {
        problems.push(`app '${a.id}': isDefaultFor '${k}' is not one of its keywords`);
      }
    }
  }
  const aliasOwner = new Map<string, string>();
  for (const a of catalog.apps) {
    for (const al of a.aliases) {
      const other = aliasOwner.get(al);
      if (other && other !== a.id)
        problems.push(`alias '${al}' names both '${other}' and '${a.id}'`);
      aliasOwner.set(al, a.id);
    }
  }
  const defaults = new Map<string, string>();
  for (const a of catalog.apps) {
    for (const k of a.isDefaultFor ?? []) {
      const other = defaults.get(k);
      if (other) problems.push(`'${k}' is the default of both '${other}' and '${a.id}'`);
      defaults.set(k, a.id);
    }
  }
  for (const p of catalog.presets) {
    for (const id of p.apps)
      if (!ids.has(id)) problems.push(`preset '${p.id}' names unknown app '${id}'`);
  }
  for (const u of catalog.unprovidable) {
    for (const id of u.alternatives) {
      if (!ids.has(id)) problems.push(`unprovidable '${u.id}' names unknown alternative '${id}'`);
    }
    for (const al of u.aliases) {
      if (aliasOwner.has(al)) problems.push(`unprovidable alias '${al}' is also an app alias`);
    }
  }
  return problems;
}
