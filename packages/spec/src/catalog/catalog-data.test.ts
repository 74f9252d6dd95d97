import { describe, expect, it } from 'vitest';
import { checkCatalog, defaultCatalog } from '../index.js';
import { DomainName } from '../schema.js';
import { DEBIAN_NON_MAIN } from './data/index.js';

const { apps, presets, unprovidable } = defaultCatalog;

/** The app whose `isDefaultFor` names `phrase`, if any. */
function defaultFor(phrase: string): string | undefined {
  return apps.find((a) => a.isDefaultFor?.includes(phrase))?.id;
}

/**
 * Words that turn up in ordinary requests ("give me a desktop to edit my photos and play music").
 * The composer matches aliases and keywords as whole words, so none of these may be one.
 */
const COMMON_WORDS = [
  'cargo',
  'composer',
  'dig',
  'ethereal',
  'fortune',
  'marble',
  'scratch',
  'sublime',
  'tiled',
  'tomboy',
  'torch',
  'totem',
  'a',
  'about',
  'age',
  'all',
  'an',
  'and',
  'any',
  'app',
  'apps',
  'as',
  'at',
  'awesome',
  'base',
  'be',
  'big',
  'box',
  'build',
  'c',
  'can',
  'check',
  'code',
  'computer',
  'data',
  'desktop',
  'do',
  'document',
  'documents',
  'draw',
  'easy',
  'edit',
  'environment',
  'evolution',
  'fast',
  'file',
  'files',
  'find',
  'fish',
  'for',
  'free',
  'from',
  'game',
  'games',
  'get',
  'give',
  'go',
  'help',
  'i',
  'image',
  'images',
  'impress',
  'in',
  'install',
  'internet',
  'is',
  'it',
  'john',
  'just',
  'less',
  'light',
  'like',
  'look',
  'machine',
  'mail',
  'make',
  'math',
  'mate',
  'me',
  'micro',
  'music',
  'my',
  'need',
  'network',
  'new',
  'node',
  'notes',
  'of',
  'on',
  'open',
  'or',
  'pass',
  'peek',
  'photo',
  'photos',
  'play',
  'please',
  'program',
  'r',
  'ranger',
  'read',
  'run',
  'safe',
  'screen',
  'search',
  'secure',
  'server',
  'set',
  'show',
  'simple',
  'small',
  'software',
  'some',
  'system',
  'task',
  'teams',
  'terminal',
  'test',
  'text',
  'the',
  'to',
  'tool',
  'tools',
  'top',
  'transmission',
  'tree',
  'use',
  'video',
  'view',
  'want',
  'watch',
  'web',
  'will',
  'with',
  'word',
  'work',
  'write',
  'writer',
];

describe('default catalog data', () => {
  it('is consistent', () => {
    expect(checkCatalog(defaultCatalog)).toEqual([]);
  });

  it('knows enough applications, presets and unprovidable programs', () => {
    expect(apps.length).toBeGreaterThanOrEqual(230);
    expect(presets.length).toBeGreaterThanOrEqual(25);
    expect(unprovidable.length).toBeGreaterThanOrEqual(40);
  });

  it('packages every app for Debian, the distro that can always be built', () => {
    const missing = apps.filter((a) => (a.packages.debian ?? []).length === 0).map((a) => a.id);
    expect(missing).toEqual([]);
  });

  it('uses no common English word as an alias or keyword', () => {
    const common = new Set(COMMON_WORDS);
    const bad = [
      ...apps.flatMap((a) => [...a.aliases, ...a.keywords].map((w) => [a.id, w] as const)),
      ...unprovidable.flatMap((u) => u.aliases.map((w) => [u.id, w] as const)),
      ...presets.flatMap((p) => p.keywords.map((w) => [p.id, w] as const)),
    ].filter(([, w]) => common.has(w));
    expect(bad).toEqual([]);
  });

  it.each([
    ['browser', 'firefox'],
    ['office', 'libreoffice'],
    ['word processor', 'libreoffice-writer'],
    ['spreadsheet', 'libreoffice-calc'],
    ['presentation', 'libreoffice-impress'],
    ['pdf viewer', 'evince'],
    ['email', 'thunderbird'],
    ['photo editing', 'gimp'],
    ['image editor', 'gimp'],
    ['vector graphics', 'inkscape'],
    ['digital painting', 'krita'],
    ['3d modelling', 'blender'],
    ['video player', 'vlc'],
    ['music player', 'rhythmbox'],
    ['video editing', 'kdenlive'],
    ['audio editor', 'audacity'],
    ['screen recording', 'obs-studio'],
    ['dark web', 'tor-browser'],
    ['irc client', 'hexchat'],
    ['note taking', 'zim'],
    ['latex editor', 'texstudio'],
    ['image viewer', 'eog'],
  ])('picks a default for "%s"', (phrase, id) => {
    expect(defaultFor(phrase)).toBe(id);
  });

  it('keeps every default among the shared words of its own app', () => {
    for (const a of apps) {
      for (const k of a.isDefaultFor ?? []) expect([...a.keywords, ...a.aliases]).toContain(k);
    }
  });

  it('offers an alternative for every unprovidable program', () => {
    expect(unprovidable.filter((u) => u.alternatives.length === 0).map((u) => u.id)).toEqual([]);
  });

  it.each([
    ['google chrome', 'chromium', true],
    ['photoshop', 'gimp', false],
    ['microsoft word', 'libreoffice-writer', false],
    ['excel', 'libreoffice-calc', false],
    ['vscode', 'geany', false],
    ['matlab', 'octave', false],
    ['final cut pro', 'kdenlive', false],
    ['burp suite', 'mitmproxy', false],
  ])('answers "%s" with %s first (substitute: %s)', (alias, first, substitute) => {
    const u = unprovidable.find((x) => x.aliases.includes(alias));
    expect(u?.alternatives[0]).toBe(first);
    expect(u?.autoSubstitute).toBe(substitute);
  });

  it('substitutes without asking only for Chrome', () => {
    expect(unprovidable.filter((u) => u.autoSubstitute).map((u) => u.id)).toEqual([
      'google-chrome',
    ]);
  });

  it('keeps preset ids unique and preset keywords apart from app words', () => {
    expect(new Set(presets.map((p) => p.id)).size).toBe(presets.length);
    const appWords = new Set(apps.flatMap((a) => [...a.aliases, ...a.keywords]));
    const seen = new Map<string, string>();
    const clashes: string[] = [];
    for (const p of presets) {
      for (const k of p.keywords) {
        if (k !== k.toLowerCase() || k.trim() !== k) clashes.push(`${p.id}: '${k}' not lowercase`);
        if (appWords.has(k)) clashes.push(`${p.id}: '${k}' is also an app word`);
        const other = seen.get(k);
        if (other) clashes.push(`'${k}' names both ${other} and ${p.id}`);
        seen.set(k, p.id);
      }
    }
    expect(clashes).toEqual([]);
  });

  it('marks apps that need their own kernel as needing a VM', () => {
    for (const id of ['docker', 'podman', 'qemu', 'wireguard']) {
      expect(apps.find((a) => a.id === id)?.minRuntime).toBe('vm');
    }
  });

  it('grants raw sockets to packet capture and scanning tools', () => {
    for (const id of ['wireshark', 'tcpdump', 'nmap']) {
      expect(apps.find((a) => a.id === id)?.capabilities).toContain('CAP_NET_RAW');
    }
  });

  it('names only well-formed domains', () => {
    const bad = apps.flatMap((a) =>
      (a.domains ?? []).filter((d) => !DomainName.safeParse(d).success).map((d) => `${a.id}: ${d}`),
    );
    expect(bad).toEqual([]);
  });

  it('lists only non-main Debian packages that some app uses', () => {
    const used = new Set(apps.flatMap((a) => a.packages.debian ?? []));
    expect(Object.keys(DEBIAN_NON_MAIN).filter((p) => !used.has(p))).toEqual([]);
  });
});
