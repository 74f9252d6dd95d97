/**
 * From an environment spec to an image request, and the fixed package set of the desktop layer.
 */
import { CatalogIndex, type EnvironmentSpec } from '@virtos/spec';
import type { ImageRequest } from './types.js';

/**
 * Packages of the desktop layer: TigerVNC's X server, a small window manager, a terminal, fonts (with
 * fontconfig's fc-cache) and the X utilities used to wait for the window manager. Listed explicitly because mmdebstrap and our
 * apt calls install no Recommends.
 */
export const DESKTOP_PACKAGES: readonly string[] = [
  'tigervnc-standalone-server',
  'tigervnc-tools',
  'openbox',
  'xterm',
  'xfonts-base',
  'fonts-dejavu-core',
  // fc-cache: the layer's font caches are built at build time (see store.ts); without them every
  // desktop start rebuilt them per user, which kept openbox busy for ~5 s.
  'fontconfig',
  'x11-utils',
  'procps',
];

const catalog = new CatalogIndex();

/**
 * The image an environment spec needs: its distro and release (aliases such as `12` resolved to the
 * catalog's release id), its display, and the union of its apps' packages.
 */
export function imageRequestFromSpec(spec: EnvironmentSpec): ImageRequest {
  const release = catalog.release(spec.base.distro, spec.base.release)?.id ?? spec.base.release;
  const packages = [...new Set(spec.apps.flatMap((a) => a.packages))].sort();
  return { distro: spec.base.distro, release, display: spec.display, packages };
}
