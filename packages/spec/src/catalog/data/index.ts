import type { AppEntry, PresetEntry, UnprovidableEntry } from '../types.js';
import { SEED_APPS } from './apps-seed.js';

/** Every application of the catalog. */
export const APP_ENTRIES: readonly AppEntry[] = [...SEED_APPS];
/** Every preset of the catalog. */
export const PRESET_ENTRIES: readonly PresetEntry[] = [];
/** Everything the catalog knows it can never provide. */
export const UNPROVIDABLE_ENTRIES: readonly UnprovidableEntry[] = [];
