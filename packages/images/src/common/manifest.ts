/**
 * Parsing of package listings and of stored manifests. Parsing returns values (Result) for bad input
 * instead of throwing, because a damaged manifest is an expected state of a cache.
 */
import { err, ok, type Result } from '@virtos/core';
import type { LayerManifest, LayerPackage } from './types.js';

/** The dpkg-query format {@link parseDpkgQuery} reads: name, version and status, tab-separated. */
export const DPKG_QUERY_FORMAT = '${Package}\\t${Version}\\t${db:Status-Abbrev}\\n';

/**
 * Parses `dpkg-query -W -f "$DPKG_QUERY_FORMAT"` output, keeping installed packages (status `ii`),
 * sorted by name.
 */
export function parseDpkgQuery(output: string): LayerPackage[] {
  const out: LayerPackage[] = [];
  for (const line of output.split('\n')) {
    const [name, version, status] = line.split('\t');
    if (!name || !version || !status?.startsWith('ii')) continue;
    out.push({ name, version });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The packages of `now` that are absent from, or have another version in, `before`. */
export function packagesAdded(
  before: readonly LayerPackage[],
  now: readonly LayerPackage[],
): LayerPackage[] {
  const old = new Map(before.map((p) => [p.name, p.version]));
  return now.filter((p) => old.get(p.name) !== p.version);
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Reads a manifest.json text, checking the fields callers rely on. */
export function parseManifest(text: string): Result<LayerManifest, string> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return err(`not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null) return err('not an object');
  const m = v as Record<string, unknown>;
  if (typeof m.id !== 'string' || !HEX64.test(m.id)) return err('bad id');
  if (m.kind !== 'base' && m.kind !== 'desktop' && m.kind !== 'apps') return err('bad kind');
  if (m.parent !== null && (typeof m.parent !== 'string' || !HEX64.test(m.parent)))
    return err('bad parent');
  if (typeof m.treeHash !== 'string' || !HEX64.test(m.treeHash)) return err('bad treeHash');
  if (typeof m.sizeBytes !== 'number' || !Array.isArray(m.packages)) return err('bad sizes');
  if (typeof m.createdAt !== 'string' || typeof m.builder !== 'string') return err('bad metadata');
  return ok(v as LayerManifest);
}
