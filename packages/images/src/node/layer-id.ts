/**
 * Content addressing of layers: a layer id is a sha256 over everything that decides its contents.
 */
import { createHash } from 'node:crypto';
import type { Distro } from '@virtos/spec';
import { ImageErrors } from '../common/errors.js';
import type { LayerKind } from '../common/types.js';

/** The inputs that decide a layer's contents. */
export interface LayerInputs {
  readonly kind: LayerKind;
  readonly parent: string | null;
  /** Builder name and version, e.g. `mmdebstrap/1.3.5`. */
  readonly builder: string;
  readonly distro: Distro;
  readonly release: string;
  /** Base layers only: the builder variant, e.g. `minbase`. */
  readonly variant?: string;
  readonly packages: readonly string[];
}

/** Version of the id scheme; bump it when the layout of a layer changes. */
export const LAYER_FORMAT = 1;

/** Debian-style package names (also fine for apk, dnf and pacman names). */
const PACKAGE_RE = /^[a-z0-9][a-z0-9+.\-_]*$/;

/** Sorts, de-duplicates and validates package names. */
export function normalizePackages(packages: readonly string[]): string[] {
  const set = new Set<string>();
  for (const raw of packages) {
    const p = raw.trim();
    if (!PACKAGE_RE.test(p) || p.length > 128) {
      throw ImageErrors.create('invalid_request', `'${raw}' is not a package name.`, {
        subject: raw,
        hint: 'Use distro package names such as firefox-esr or libreoffice-writer.',
      });
    }
    set.add(p);
  }
  return [...set].sort();
}

/**
 * The layer id: sha256 hex over a canonical JSON of the inputs (package set sorted and de-duplicated),
 * so the same request always maps to the same layer and any change of input to a new one.
 */
export function computeLayerId(inputs: LayerInputs): string {
  const canonical = JSON.stringify([
    LAYER_FORMAT,
    inputs.kind,
    inputs.parent,
    inputs.builder,
    inputs.distro,
    inputs.release,
    inputs.variant ?? null,
    normalizePackages(inputs.packages),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** The first 12 hex digits of an id, for people. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}
