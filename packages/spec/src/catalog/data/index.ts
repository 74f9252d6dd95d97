/**
 * The catalog's data: applications by category, presets and the things GenOS can never provide.
 * Every Debian package name here is checked against bookworm by catalog-debian.integration.test.ts.
 */
import type { AppEntry, PresetEntry, UnprovidableEntry } from '../types.js';
import { BROWSER_APPS } from './apps-browsers.js';
import { COMMUNICATION_APPS } from './apps-communication.js';
import { DEVELOPMENT_APPS } from './apps-development.js';
import { EDUCATION_APPS } from './apps-education.js';
import { GAME_APPS } from './apps-games.js';
import { GRAPHICS_APPS } from './apps-graphics.js';
import { MEDIA_APPS } from './apps-media.js';
import { NETWORK_APPS } from './apps-network.js';
import { OFFICE_APPS } from './apps-office.js';
import { SCIENCE_APPS } from './apps-science.js';
import { SECURITY_APPS } from './apps-security.js';
import { SEED_APPS } from './apps-seed.js';
import { SYSTEM_APPS } from './apps-system.js';
import { PRESETS } from './presets.js';
import { UNPROVIDABLE } from './unprovidable.js';

export { DEBIAN_NON_MAIN } from './packages.js';

/** Every application of the catalog. */
export const APP_ENTRIES: readonly AppEntry[] = [
  ...SEED_APPS,
  ...BROWSER_APPS,
  ...OFFICE_APPS,
  ...COMMUNICATION_APPS,
  ...GRAPHICS_APPS,
  ...MEDIA_APPS,
  ...DEVELOPMENT_APPS,
  ...SCIENCE_APPS,
  ...NETWORK_APPS,
  ...SECURITY_APPS,
  ...SYSTEM_APPS,
  ...GAME_APPS,
  ...EDUCATION_APPS,
];
/** Every preset of the catalog. */
export const PRESET_ENTRIES: readonly PresetEntry[] = PRESETS;
/** Everything the catalog knows it can never provide. */
export const UNPROVIDABLE_ENTRIES: readonly UnprovidableEntry[] = UNPROVIDABLE;
