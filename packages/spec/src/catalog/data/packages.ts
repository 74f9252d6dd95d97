/**
 * Helpers that spell package maps. Debian names are checked against bookworm's archive by
 * catalog-debian.integration.test.ts; names for the other distros come from knowledge of those
 * distros and are left out wherever they are uncertain.
 */
import type { AppEntry } from '../types.js';

/** The package map of an app. */
export type PackageMap = AppEntry['packages'];

/** The same package names on all five distros. */
export function everywhere(...names: string[]): PackageMap {
  return { debian: names, ubuntu: names, alpine: names, fedora: names, arch: names };
}

/** Debian and Ubuntu (which derives from Debian) share these names; other distros unknown. */
export function debs(...names: string[]): PackageMap {
  return { debian: names, ubuntu: names };
}

/**
 * Packages of bookworm that are not in `main`: the integration test checks them only when the host's
 * apt sources include their component, and a builder must enable it to install them.
 */
export const DEBIAN_NON_MAIN: Readonly<Record<string, 'contrib' | 'non-free'>> = {
  'torbrowser-launcher': 'contrib',
  'steam-installer': 'contrib',
  nikto: 'non-free',
  unrar: 'non-free',
  'nautilus-dropbox': 'non-free',
};
