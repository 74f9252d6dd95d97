/**
 * The catalog's data: applications by category, presets and the things GenOS can never provide.
 * Every Debian package name here is checked against bookworm by catalog-debian.integration.test.ts.
 */
import type { AppEntry, PresetEntry, UnprovidableEntry } from '../types.js';
import { BROWSER_APPS } from './apps-browsers.js';
import { COMMUNICATION_APPS } from './apps-communication.js';
import { GRAPHICS_APPS } from './apps-graphics.js';
import { MEDIA_APPS } from './apps-media.js';
import { OFFICE_APPS } from './apps-office.js';
import { SEED_APPS } from './apps-seed.js';

export { DEBIAN_NON_MAIN } from './packages.js';

/** Every application of the catalog. */
export const APP_ENTRIES: readonly AppEntry[] = [
  ...SEED_APPS,
  ...BROWSER_APPS,
  ...OFFICE_APPS,
  ...COMMUNICATION_APPS,
  ...GRAPHICS_APPS,
  ...MEDIA_APPS,
];
/** Every preset of the catalog. */
export const PRESET_ENTRIES: readonly PresetEntry[] = [];
/** Everything the catalog knows it can never provide. */
export const UNPROVIDABLE_ENTRIES: readonly UnprovidableEntry[] = [];
