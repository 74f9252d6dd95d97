/**
 * Checks every Debian package name of the catalog against the host's apt lists, in one `apt-cache
 * show` run. The lists are Debian's archive as this host's sources configure it (bookworm here);
 * when they lack a component the catalog uses (contrib, non-free), the test, as root, fetches
 * bookworm's lists of every component into a private apt directory and checks against those.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../index.js';
import { DEBIAN_NON_MAIN } from './data/index.js';

/** Extra apt options: a private list set with every component, when the host's lists lack some. */
let aptOptions: string[] = [];

function run(args: string[], cmd = 'apt-cache'): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(cmd, [...aptOptions, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return { ok: !r.error && r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * Fetches bookworm's package lists of every component into a private apt directory (beside the
 * test image cache, refreshed weekly), leaving the host's own sources alone. Root only.
 */
function usePrivateLists(): boolean {
  const dir = join(
    process.env['VIRTOS_TEST_IMAGE_CACHE'] ?? '/var/cache/virtos-test/images',
    '..',
    'apt',
  );
  const sources = join(dir, 'sources.list');
  mkdirSync(join(dir, 'lists', 'partial'), { recursive: true });
  mkdirSync(join(dir, 'cache', 'archives', 'partial'), { recursive: true });
  writeFileSync(
    sources,
    'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ' +
      'bookworm main contrib non-free non-free-firmware\n',
  );
  aptOptions = [
    '-o',
    `Dir::Etc::SourceList=${sources}`,
    '-o',
    'Dir::Etc::SourceParts=/nonexistent',
    '-o',
    `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o',
    `Dir::Cache=${join(dir, 'cache')}`,
  ];
  const stamp = join(dir, 'updated');
  const fresh = existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < 7 * 86_400_000;
  if (!fresh) {
    if (!run(['update', '-qq'], 'apt-get').ok) return false;
    writeFileSync(stamp, new Date().toISOString());
  }
  return true;
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
const names = [...new Set(defaultCatalog.apps.flatMap((a) => a.packages.debian ?? []))].sort();
/** Package names grouped by their bookworm component. */
const byComponent = new Map<string, string[]>();
for (const n of names) {
  const c = DEBIAN_NON_MAIN[n] ?? 'main';
  byComponent.set(c, [...(byComponent.get(c) ?? []), n]);
}
let components = hasAptCache ? hostComponents() : new Set<string>();
// Hosts enable only some components (here: main); as root, the check fetches the rest itself.
if (
  hasAptCache &&
  process.getuid?.() === 0 &&
  [...byComponent.keys()].some((c) => !components.has(c)) &&
  usePrivateLists()
) {
  components = hostComponents();
}

describe('catalog Debian packages', () => {
  for (const [component, group] of byComponent) {
    const reason = !hasAptCache
      ? 'apt-cache is not installed: this is not a Debian host'
      : !components.has(component)
        ? `no apt lists with the '${component}' component (run as root to fetch them)`
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
