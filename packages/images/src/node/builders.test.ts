import { describe, expect, it } from 'vitest';
import type { Distro } from '@virtos/spec';
import {
  ApkBuilder,
  DnfBuilder,
  MmdebstrapBuilder,
  PacstrapBuilder,
  builderKindFor,
  defaultBuilders,
} from './builders.js';
import type { Exec } from './exec.js';

const T = '/cache/tmp/x/tree';
const reachable = async () => true;
const unreachable = async () => false;

/** A fake exec where every tool exists and answers `<tool> 1.2.3`. */
const fakeExec =
  (missing: string[] = []): Exec =>
  async (argv) => {
    const cmd = argv[0] === 'sh' ? (argv[2] ?? '').replace('command -v ', '') : (argv[0] ?? '');
    if (missing.includes(cmd)) return { code: argv[0] === 'sh' ? 1 : 127, stdout: '', stderr: '' };
    return { code: 0, stdout: `${cmd} 1.2.3\n`, stderr: '' };
  };

describe('base command lines', () => {
  it('debian: mmdebstrap minbase in root mode from deb.debian.org', () => {
    expect(
      new MmdebstrapBuilder().baseCommand({ distro: 'debian', release: 'bookworm', target: T }),
    ).toEqual([
      'mmdebstrap',
      '--mode=root',
      '--variant=minbase',
      '--format=directory',
      '--verbose',
      '--components=main',
      'bookworm',
      T,
      'http://deb.debian.org/debian',
    ]);
  });

  it('ubuntu: mmdebstrap with the code name, universe and the Ubuntu keyring', () => {
    const argv = new MmdebstrapBuilder().baseCommand({
      distro: 'ubuntu',
      release: '24.04',
      target: T,
    });
    expect(argv).toContain('noble');
    expect(argv).toContain('--components=main,universe');
    expect(argv).toContain('--keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg');
    expect(argv.at(-1)).toBe('http://archive.ubuntu.com/ubuntu');
    expect(argv.at(-2)).toBe(T);
  });

  it('alpine: apk --initdb into the target from the release branch', () => {
    const argv = new ApkBuilder().baseCommand({ distro: 'alpine', release: '3.20', target: T });
    expect(argv.slice(0, 4)).toEqual(['apk', '--root', T, '--initdb']);
    expect(argv).toContain('https://dl-cdn.alpinelinux.org/alpine/v3.20/main');
    expect(argv.slice(-3)).toEqual(['add', 'alpine-base', 'shadow']);
    expect(argv).not.toContain('--allow-untrusted');
  });

  it('fedora: dnf --installroot with the release version and no weak deps', () => {
    const argv = new DnfBuilder().baseCommand({ distro: 'fedora', release: '40', target: T });
    expect(argv).toContain(`--installroot=${T}`);
    expect(argv).toContain('--releasever=40');
    expect(argv).toContain('--setopt=install_weak_deps=False');
    expect(argv).toContain('fedora-release');
  });

  it('arch: pacstrap base with a fresh keyring', () => {
    expect(
      new PacstrapBuilder().baseCommand({ distro: 'arch', release: 'rolling', target: T }),
    ).toEqual(['pacstrap', '-K', '-M', T, 'base']);
  });
});

describe('install commands', () => {
  it('apt-get installs without recommends, non-interactively keeping configs', () => {
    const cmds = new MmdebstrapBuilder().installCommands(['a', 'b']);
    expect(cmds[0]).toEqual(['apt-get', 'update']);
    expect(cmds[1]?.slice(0, 4)).toEqual(['apt-get', 'install', '-y', '--no-install-recommends']);
    expect(cmds[1]?.slice(-2)).toEqual(['a', 'b']);
  });

  it.each([
    [new ApkBuilder(), 'apk'],
    [new DnfBuilder(), 'dnf'],
    [new PacstrapBuilder(), 'pacman'],
  ])('%s uses its package manager', (b, tool) => {
    const cmds = b.installCommands(['x']);
    expect(cmds[0]?.[0]).toBe(tool);
    expect(cmds[0]).toContain('x');
  });

  it('every builder creates the desktop user uid/gid 1000 with home /home/user', () => {
    for (const b of Object.values(defaultBuilders())) {
      const sh = b.baseSetupCommands().flat().join(' ');
      expect(sh).toContain('useradd -u 1000 -g 1000 -d /home/user');
      expect(sh).toContain('chown 1000:1000 /home/user');
    }
  });
});

describe('availability', () => {
  it('maps each distro to the catalog builder', () => {
    const kinds = (['debian', 'ubuntu', 'alpine', 'fedora', 'arch'] as Distro[]).map(
      builderKindFor,
    );
    expect(kinds).toEqual(['mmdebstrap', 'mmdebstrap', 'apk', 'dnf', 'pacstrap']);
  });

  it('is available when the tool exists and the mirror answers', async () => {
    expect(await new MmdebstrapBuilder(reachable).availability(fakeExec(), 'debian')).toEqual({
      available: true,
    });
  });

  it('names the missing tool', async () => {
    const a = await new ApkBuilder(reachable).availability(fakeExec(['apk']), 'alpine');
    expect(a).toEqual({ available: false, reason: 'apk is not installed on this host' });
  });

  it('names the unreachable mirror', async () => {
    const a = await new DnfBuilder(unreachable).availability(fakeExec(), 'fedora');
    expect(a.available).toBe(false);
    expect(!a.available && a.reason).toMatch(
      /fedora mirror dl\.fedoraproject\.org is not reachable/,
    );
  });

  it('reads the tool version into the identity', async () => {
    expect(await new PacstrapBuilder().identity(fakeExec())).toBe('pacstrap/1.2.3');
    expect(await new PacstrapBuilder().identity(fakeExec(['pacstrap']))).toBe('pacstrap/missing');
  });
});
