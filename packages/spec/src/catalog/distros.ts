import type { DistroEntry } from './types.js';

const NO_MIRROR = (name: string) =>
  ({
    available: false,
    reason: `${name}'s package mirror is not reachable from this installation`,
  }) as const;

/** The distributions GenOS knows. Only Debian's mirror is reachable on the default installation. */
export const DISTRO_ENTRIES: readonly DistroEntry[] = [
  {
    id: 'debian',
    name: 'Debian',
    aliases: ['debian', 'deb', 'debian gnu/linux'],
    releases: [
      { id: 'bookworm', aliases: ['12', 'debian 12', 'stable', 'bookworm'], isDefault: true },
      { id: 'trixie', aliases: ['13', 'debian 13', 'testing', 'trixie'] },
      { id: 'bullseye', aliases: ['11', 'debian 11', 'oldstable', 'bullseye'] },
      { id: 'sid', aliases: ['unstable', 'sid'] },
    ],
    builder: 'mmdebstrap',
    mirror: 'deb.debian.org',
    availability: { available: true },
  },
  {
    id: 'ubuntu',
    name: 'Ubuntu',
    aliases: ['ubuntu', 'kubuntu', 'xubuntu', 'lubuntu'],
    releases: [
      { id: '24.04', aliases: ['24.04', 'noble', 'noble numbat', '24'], isDefault: true },
      { id: '22.04', aliases: ['22.04', 'jammy', 'jammy jellyfish', '22'] },
      { id: '20.04', aliases: ['20.04', 'focal', 'focal fossa', '20'] },
      { id: '24.10', aliases: ['24.10', 'oracular'] },
    ],
    builder: 'mmdebstrap',
    mirror: 'archive.ubuntu.com',
    availability: NO_MIRROR('Ubuntu'),
  },
  {
    id: 'alpine',
    name: 'Alpine Linux',
    aliases: ['alpine', 'alpine linux'],
    releases: [
      { id: '3.20', aliases: ['3.20'], isDefault: true },
      { id: '3.19', aliases: ['3.19'] },
      { id: 'edge', aliases: ['edge'] },
    ],
    builder: 'apk',
    mirror: 'dl-cdn.alpinelinux.org',
    availability: NO_MIRROR('Alpine'),
  },
  {
    id: 'fedora',
    name: 'Fedora',
    aliases: ['fedora', 'fedora linux'],
    releases: [
      { id: '40', aliases: ['40', 'f40'], isDefault: true },
      { id: '39', aliases: ['39', 'f39'] },
      { id: 'rawhide', aliases: ['rawhide'] },
    ],
    builder: 'dnf',
    mirror: 'dl.fedoraproject.org',
    availability: NO_MIRROR('Fedora'),
  },
  {
    id: 'arch',
    name: 'Arch Linux',
    aliases: ['arch', 'arch linux', 'archlinux'],
    releases: [{ id: 'rolling', aliases: ['rolling', 'latest'], isDefault: true }],
    builder: 'pacstrap',
    mirror: 'geo.mirror.pkgbuild.com',
    availability: NO_MIRROR('Arch Linux'),
  },
];
