/**
 * Well-known sites people name without a domain ("only reach wikipedia"), with the domains they
 * need. Kept small and conservative: a site missing here is asked for by its domain.
 */
export const KNOWN_SITES: Readonly<Record<string, readonly string[]>> = {
  wikipedia: ['wikipedia.org', '*.wikipedia.org', '*.wikimedia.org'],
  github: ['github.com', '*.github.com', '*.githubusercontent.com'],
  gitlab: ['gitlab.com', '*.gitlab.com'],
  'stack overflow': ['stackoverflow.com', '*.stackoverflow.com', '*.sstatic.net'],
  stackoverflow: ['stackoverflow.com', '*.stackoverflow.com', '*.sstatic.net'],
  youtube: ['youtube.com', '*.youtube.com', '*.googlevideo.com', '*.ytimg.com'],
  google: ['google.com', '*.google.com', '*.gstatic.com'],
  gmail: ['mail.google.com', 'accounts.google.com', '*.gstatic.com'],
  reddit: ['reddit.com', '*.reddit.com', '*.redditmedia.com', '*.redditstatic.com'],
  'hacker news': ['news.ycombinator.com'],
  duckduckgo: ['duckduckgo.com', '*.duckduckgo.com'],
  pypi: ['pypi.org', 'files.pythonhosted.org'],
  npm: ['registry.npmjs.org', 'npmjs.com', '*.npmjs.com'],
  'docker hub': ['hub.docker.com', 'registry-1.docker.io', 'auth.docker.io'],
  'debian mirrors': ['deb.debian.org', 'security.debian.org'],
  'the debian mirror': ['deb.debian.org', 'security.debian.org'],
  'crates.io': ['crates.io', 'static.crates.io', 'index.crates.io'],
  linkedin: ['linkedin.com', '*.linkedin.com', '*.licdn.com'],
  twitter: ['twitter.com', '*.twitter.com', 'x.com', '*.twimg.com'],
  mastodon: ['mastodon.social'],
  'bbc news': ['bbc.co.uk', '*.bbc.co.uk', 'bbc.com', '*.bbc.com'],
  bbc: ['bbc.co.uk', '*.bbc.co.uk', 'bbc.com', '*.bbc.com'],
  openstreetmap: ['openstreetmap.org', '*.openstreetmap.org'],
  arxiv: ['arxiv.org', '*.arxiv.org'],
  mdn: ['developer.mozilla.org'],
  'python docs': ['docs.python.org'],
  'rust docs': ['doc.rust-lang.org', 'docs.rs'],
};

/** Two-letter endings that are file extensions far more often than country domains. */
const FILE_EXTENSIONS = new Set(
  'js py md sh ps pl rb cc cs ts db gz xz hs ml mk so ko el go h c'.split(' '),
);

/** True when `tld` is accepted as the end of a domain name. */
export function isKnownTld(tld: string): boolean {
  return KNOWN_TLDS.has(tld) || (tld.length === 2 && !FILE_EXTENSIONS.has(tld));
}

/** Top-level domains accepted when a word looks like a domain (so 'report.pdf' is not one). */
export const KNOWN_TLDS = new Set(
  (
    'com org net io dev app edu gov mil int info biz co uk de fr es it nl be ch at se no dk fi pl cz ' +
    'ru ua jp cn kr in au nz ca us br mx ar cl eu me tv cc ai sh so xyz site online tech cloud ' +
    'news blog wiki page onion ie pt gr hu ro bg sk si hr lt lv ee is lu li tw hk sg my th vn id ph ' +
    'za ng ke eg il tr ir sa ae qa pk bd lk np social zone space rocks gg fm to ly la im'
  ).split(' '),
);
