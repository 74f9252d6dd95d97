/**
 * Distro builders: how a base root file system is made for each distro, how packages are added on
 * top of it, and how installed packages are listed. Each builder only assembles command lines and
 * checks its own availability; the store runs them (through the exec port) and handles layers,
 * mounts and atomic renames.
 */
import { connect } from 'node:net';
import type { Availability, BuilderKind, Distro } from '@virtos/spec';
import { CatalogIndex } from '@virtos/spec';
import { DPKG_QUERY_FORMAT, parseDpkgQuery } from '../common/manifest.js';
import type { LayerPackage } from '../common/types.js';
import type { Exec } from './exec.js';

/** The desktop user every base layer gets: uid/gid 1000, home /home/user (left empty). */
export const DESKTOP_USER = { name: 'user', uid: 1000, gid: 1000, home: '/home/user' } as const;

/** Inputs of a base build. */
export interface BaseBuildParams {
  readonly distro: Distro;
  readonly release: string;
  /** Directory to create the tree in; absent or empty. */
  readonly target: string;
}

/** A distro builder. Command-line methods are pure, so tests check them without running anything. */
export interface DistroBuilder {
  readonly kind: BuilderKind;
  /** The host tool it needs (looked up on PATH). */
  readonly tool: string;
  /** The variant of base layers it builds (part of the base layer id). */
  readonly variant: string;
  /** `tool/version`, part of every layer id it builds. */
  identity(exec: Exec): Promise<string>;
  /** Whether it can build `distro` here: the tool exists and the mirror answers. */
  availability(exec: Exec, distro: Distro): Promise<Availability>;
  /** The command that builds a base tree into `params.target`. */
  baseCommand(params: BaseBuildParams): string[];
  /** Commands run inside a chroot of the new base tree (e.g. create the desktop user). */
  baseSetupCommands(): string[][];
  /** Commands run inside a chroot of an overlay to install `packages` (sorted) on top. */
  installCommands(packages: readonly string[]): string[][];
  /** Paths (relative to the root) to delete after installing: package caches and indexes. */
  readonly cleanupGlobs: readonly string[];
  /** Lists installed packages of the tree at `root` (run from the host, no chroot). */
  listPackages(exec: Exec, root: string): Promise<LayerPackage[]>;
}

/** Checks whether a host answers TCP on `port` within `timeoutMs`. A port so tests can fake it. */
export type MirrorProbe = (host: string, port: number, timeoutMs: number) => Promise<boolean>;

/** The real mirror probe: a TCP connect. */
export const tcpMirrorProbe: MirrorProbe = (host, port, timeoutMs) =>
  new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });

const catalog = new CatalogIndex();

/** Mirror host of a distro, from the catalog. */
export function mirrorHost(distro: Distro): string {
  return catalog.distro(distro).mirror;
}

const USER_SETUP_SH =
  `getent group ${DESKTOP_USER.gid} >/dev/null || groupadd -g ${DESKTOP_USER.gid} ${DESKTOP_USER.name}; ` +
  `id -u ${DESKTOP_USER.name} >/dev/null 2>&1 || useradd -u ${DESKTOP_USER.uid} -g ${DESKTOP_USER.gid} ` +
  `-d ${DESKTOP_USER.home} -M -s /bin/sh ${DESKTOP_USER.name}; ` +
  `mkdir -p ${DESKTOP_USER.home} && chown ${DESKTOP_USER.uid}:${DESKTOP_USER.gid} ${DESKTOP_USER.home} && chmod 0755 ${DESKTOP_USER.home}`;

async function toolVersion(exec: Exec, argv: string[], name: string): Promise<string> {
  const r = await exec(argv);
  if (r.code === 127) return `${name}/missing`;
  const m = /(\d+\.\d+(?:\.\d+)*)/.exec(r.stdout + r.stderr);
  return `${name}/${m?.[1] ?? 'unknown'}`;
}

abstract class BuilderBase implements DistroBuilder {
  abstract readonly kind: BuilderKind;
  abstract readonly tool: string;
  abstract readonly variant: string;
  abstract readonly cleanupGlobs: readonly string[];
  constructor(protected readonly probe: MirrorProbe = tcpMirrorProbe) {}

  identity(exec: Exec): Promise<string> {
    return toolVersion(exec, [this.tool, '--version'], this.kind);
  }

  async availability(exec: Exec, distro: Distro): Promise<Availability> {
    const which = await exec(['sh', '-c', `command -v ${this.tool}`]);
    if (which.code !== 0) {
      return { available: false, reason: `${this.tool} is not installed on this host` };
    }
    const host = mirrorHost(distro);
    if (!(await this.probe(host, 80, 3000))) {
      return {
        available: false,
        reason: `the ${distro} mirror ${host} is not reachable from this host`,
      };
    }
    return { available: true };
  }

  abstract baseCommand(params: BaseBuildParams): string[];
  abstract installCommands(packages: readonly string[]): string[][];
  abstract listPackages(exec: Exec, root: string): Promise<LayerPackage[]>;

  baseSetupCommands(): string[][] {
    return [['/bin/sh', '-c', USER_SETUP_SH]];
  }
}

/** Ubuntu release ids are numbers; mmdebstrap wants the code name. */
const UBUNTU_SUITES: Record<string, string> = {
  '24.04': 'noble',
  '22.04': 'jammy',
  '20.04': 'focal',
  '24.10': 'oracular',
};

/** Debian and Ubuntu with mmdebstrap (root mode, `minbase`), packages added with apt-get. */
export class MmdebstrapBuilder extends BuilderBase {
  readonly kind = 'mmdebstrap' as const;
  readonly tool = 'mmdebstrap';
  readonly variant = 'minbase';
  readonly cleanupGlobs = [
    'var/lib/apt/lists/*_*',
    'var/cache/apt/*.bin',
    'var/cache/apt/archives/*.deb',
  ];

  baseCommand(p: BaseBuildParams): string[] {
    const ubuntu = p.distro === 'ubuntu';
    const suite = ubuntu ? (UBUNTU_SUITES[p.release] ?? p.release) : p.release;
    const mirror = ubuntu ? 'http://archive.ubuntu.com/ubuntu' : 'http://deb.debian.org/debian';
    return [
      'mmdebstrap',
      '--mode=root',
      `--variant=${this.variant}`,
      '--format=directory',
      '--verbose',
      ...(ubuntu
        ? ['--components=main,universe', '--keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg']
        : ['--components=main']),
      suite,
      p.target,
      mirror,
    ];
  }

  installCommands(packages: readonly string[]): string[][] {
    return [
      ['apt-get', 'update'],
      [
        'apt-get',
        'install',
        '-y',
        '--no-install-recommends',
        '-o',
        'Dpkg::Options::=--force-confdef',
        '-o',
        'Dpkg::Options::=--force-confold',
        ...packages,
      ],
      ['apt-get', 'clean'],
    ];
  }

  async listPackages(exec: Exec, root: string): Promise<LayerPackage[]> {
    // Host dpkg-query reads the tree's database: nothing of the tree is executed.
    const r = await exec([
      'dpkg-query',
      `--admindir=${root}/var/lib/dpkg`,
      '-W',
      '-f',
      DPKG_QUERY_FORMAT,
    ]);
    if (r.code !== 0) throw new Error(`dpkg-query failed: ${r.stderr.trim()}`);
    return parseDpkgQuery(r.stdout);
  }
}

/** Alpine with apk (apk.static): unavailable on hosts without apk or without Alpine's mirror. */
export class ApkBuilder extends BuilderBase {
  readonly kind = 'apk' as const;
  readonly tool = 'apk';
  readonly variant = 'alpine-base';
  readonly cleanupGlobs = ['var/cache/apk/*'];

  private repo(release: string): string {
    const v = release === 'edge' ? 'edge' : `v${release}`;
    return `https://dl-cdn.alpinelinux.org/alpine/${v}`;
  }

  baseCommand(p: BaseBuildParams): string[] {
    const repo = this.repo(p.release);
    return [
      'apk',
      '--root',
      p.target,
      '--initdb',
      '--update-cache',
      '--repository',
      `${repo}/main`,
      '--repository',
      `${repo}/community`,
      '--keys-dir',
      '/etc/apk/keys',
      'add',
      'alpine-base',
      'shadow',
    ];
  }

  installCommands(packages: readonly string[]): string[][] {
    return [['apk', 'add', '--no-cache', ...packages]];
  }

  async listPackages(exec: Exec, root: string): Promise<LayerPackage[]> {
    const r = await exec(['apk', '--root', root, 'info', '-v']);
    if (r.code !== 0) throw new Error(`apk info failed: ${r.stderr.trim()}`);
    return r.stdout
      .split('\n')
      .map((l) => /^(.+)-([^-]+-r\d+)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ name: m[1] ?? '', version: m[2] ?? '' }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }
}

/** Fedora with dnf --installroot: unavailable without dnf or Fedora's mirror. */
export class DnfBuilder extends BuilderBase {
  readonly kind = 'dnf' as const;
  readonly tool = 'dnf';
  readonly variant = 'minimal';
  readonly cleanupGlobs = ['var/cache/dnf/*'];

  baseCommand(p: BaseBuildParams): string[] {
    return [
      'dnf',
      '-y',
      `--installroot=${p.target}`,
      `--releasever=${p.release}`,
      '--setopt=install_weak_deps=False',
      '--setopt=tsflags=nodocs',
      'install',
      'fedora-release',
      'bash',
      'coreutils-single',
      'glibc-minimal-langpack',
      'shadow-utils',
      'dnf',
    ];
  }

  installCommands(packages: readonly string[]): string[][] {
    return [
      ['dnf', '-y', '--setopt=install_weak_deps=False', 'install', ...packages],
      ['dnf', 'clean', 'all'],
    ];
  }

  async listPackages(exec: Exec, root: string): Promise<LayerPackage[]> {
    const r = await exec([
      'rpm',
      '--root',
      root,
      '-qa',
      '--qf',
      '%{NAME}\\t%{VERSION}-%{RELEASE}\\tii\\n',
    ]);
    if (r.code !== 0) throw new Error(`rpm -qa failed: ${r.stderr.trim()}`);
    return parseDpkgQuery(r.stdout);
  }
}

/** Arch Linux with pacstrap: unavailable without arch-install-scripts or Arch's mirror. */
export class PacstrapBuilder extends BuilderBase {
  readonly kind = 'pacstrap' as const;
  readonly tool = 'pacstrap';
  readonly variant = 'base';
  readonly cleanupGlobs = ['var/cache/pacman/pkg/*'];

  baseCommand(p: BaseBuildParams): string[] {
    // -K: a fresh keyring in the target; -M: do not copy the host's mirror list. Arch is rolling,
    // so `release` is always `rolling` and not passed.
    return ['pacstrap', '-K', '-M', p.target, 'base'];
  }

  installCommands(packages: readonly string[]): string[][] {
    return [
      ['pacman', '-Sy', '--noconfirm', '--needed', ...packages],
      ['pacman', '-Scc', '--noconfirm'],
    ];
  }

  async listPackages(exec: Exec, root: string): Promise<LayerPackage[]> {
    const r = await exec(['pacman', '--root', root, '-Q']);
    if (r.code !== 0) throw new Error(`pacman -Q failed: ${r.stderr.trim()}`);
    return r.stdout
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter((x): x is [string, string] => x.length === 2)
      .map(([name, version]) => ({ name, version }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }
}

/** The default builders, one per builder kind of the catalog. */
export function defaultBuilders(probe?: MirrorProbe): Record<BuilderKind, DistroBuilder> {
  return {
    mmdebstrap: new MmdebstrapBuilder(probe),
    apk: new ApkBuilder(probe),
    dnf: new DnfBuilder(probe),
    pacstrap: new PacstrapBuilder(probe),
  };
}

/** The builder kind the catalog names for a distro. */
export function builderKindFor(distro: Distro): BuilderKind {
  return catalog.distro(distro).builder;
}
