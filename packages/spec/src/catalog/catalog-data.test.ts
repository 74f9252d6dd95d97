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
  'chrome',
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

  it('knows enough applications', () => {
    expect(apps.length).toBeGreaterThanOrEqual(150);
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
