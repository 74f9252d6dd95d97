import type { AppEntry } from '../types.js';

/** Seed entries; the full application list lives in the other apps-*.ts files. */
export const SEED_APPS: readonly AppEntry[] = [
  {
    id: 'firefox',
    name: 'Firefox',
    aliases: ['firefox', 'firefox esr', 'mozilla firefox', 'ff'],
    keywords: ['browser', 'web browser', 'browse the web', 'internet browser'],
    category: 'browser',
    packages: {
      debian: ['firefox-esr'],
      ubuntu: ['firefox'],
      alpine: ['firefox'],
      fedora: ['firefox'],
      arch: ['firefox'],
    },
    interface: 'gui',
    network: 'required',
    resources: { memoryMiB: 1024 },
    isDefaultFor: ['browser', 'web browser', 'browse the web', 'internet browser'],
  },
  {
    id: 'xterm',
    name: 'xterm',
    aliases: ['xterm'],
    keywords: ['terminal emulator', 'x terminal'],
    category: 'system',
    packages: {
      debian: ['xterm'],
      ubuntu: ['xterm'],
      alpine: ['xterm'],
      fedora: ['xterm'],
      arch: ['xterm'],
    },
    interface: 'gui',
    network: 'none',
  },
];
