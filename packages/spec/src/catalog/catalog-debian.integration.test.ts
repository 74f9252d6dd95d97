/**
 * Checks every Debian package name of the catalog against the host's apt lists, in one `apt-cache
 * show` run. The lists are Debian's archive as this host's sources configure it (bookworm here);
 * packages of a component the host does not enable (contrib, non-free) are reported as skipped.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../index.js';
import { DEBIAN_NON_MAIN } from './data/index.js';

function run(args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync('apt-cache', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { ok: !r.error, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Components (main, contrib, ...) of the archives the host's apt lists know. */
function hostComponents(): Set<string> {
  const { stdout } = run(['policy']);
  return new Set([...stdout.matchAll(/\bc=([a-z-]+)/g)].map((m) => m[1] ?? ''));
}

/**
 * Names among `names` that no archive record of `apt-cache show` describes. A package known only
 * from dpkg's status file (installed from elsewhere) has no `Filename:` field, so it does not count.
 */
function missingFromArchive(names: readonly string[]): { missing: string[]; notes: string[] } {
  const { stdout, stderr } = run(['show', ...names]);
  const found = new Set<string>();
  for (const record of stdout.split(/\n\s*\n/)) {
    const pkg = /^Package: (\S+)$/m.exec(record)?.[1];
    if (pkg && /^Filename: /m.test(record)) found.add(pkg);
  }
  const notes = stderr.split('\n').filter((l) => /^[NEW]: /.test(l));
  return { missing: names.filter((n) => !found.has(n)), notes };
}

const hasAptCache = run(['--version']).ok;
const components = hasAptCache ? hostComponents() : new Set<string>();
const names = [...new Set(defaultCatalog.apps.flatMap((a) => a.packages.debian ?? []))].sort();
/** Package names grouped by their bookworm component. */
const byComponent = new Map<string, string[]>();
for (const n of names) {
  const c = DEBIAN_NON_MAIN[n] ?? 'main';
  byComponent.set(c, [...(byComponent.get(c) ?? []), n]);
}

describe('catalog Debian packages', () => {
  for (const [component, group] of byComponent) {
    const reason = !hasAptCache
      ? 'apt-cache is not installed: this is not a Debian host'
      : !components.has(component)
        ? `the host's apt lists have no '${component}' component (enable it and run apt-get update)`
        : undefined;
    it.skipIf(reason !== undefined)(
      `all ${group.length} packages of '${component}' exist in the archive${reason ? ` (skipped: ${reason})` : ''}`,
      () => {
        const { missing, notes } = missingFromArchive(group);
        expect(
          missing,
          `packages not in the host's Debian archive: ${missing.join(', ')}\n${notes.join('\n')}`,
        ).toEqual([]);
      },
    );
  }
});
