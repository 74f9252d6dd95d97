/**
 * Stage 3: entity extraction. Finds, in the normalised request, every thing the composer knows a
 * word for: OS and release, apps, needs, presets, things it can never provide, quantities, network
 * intent with domains, peers, persistence, display, security cues, GPU, lifetime, priority, name,
 * and hostile content. It decides nothing; resolution and validation do.
 */
import type {
  AppEntry,
  CatalogIndex,
  Display,
  Distro,
  NetworkMode,
  Persistence,
  PresetEntry,
  RuntimeClass,
  UnprovidableEntry,
} from '@virtos/spec';
import { KNOWN_SITES, isKnownTld } from '../sites.js';
import {
  BLOCK_WORDS,
  CONTAIN_CUES,
  CONTAINER_CUES,
  DISPLAY_CUES,
  EPHEMERAL_CUES,
  GENERIC_CUES,
  GPU_CUES,
  IMPLIED_NEEDS,
  MALWARE_CUES,
  MAXIMUM_CUES,
  MICROVM_CUES,
  MINIMAL_CUES,
  NETWORK_CUES,
  PERSISTENT_CUES,
  PRIORITY_CUES,
  PROTECT_CUES,
  UNSUPPORTED_OS,
  VM_CUES,
  WEAK_ALLOW_CUES,
  WINDOWS_NOT_OS,
} from './lexicon.js';
import { PhraseIndex, Tokens, type PhraseMatch } from './phrases.js';
import { extractDurations, extractQuantities, type Duration, type Quantity } from './quantities.js';

/** Security cue groups. */
export type SecurityCue = 'contain' | 'malware' | 'maximum' | 'protect';

/** What a word of the catalog names. */
type CatalogWord =
  | { readonly kind: 'app'; readonly app: AppEntry }
  | { readonly kind: 'need'; readonly keyword: string }
  | { readonly kind: 'preset'; readonly preset: PresetEntry }
  | { readonly kind: 'unprovidable'; readonly entry: UnprovidableEntry };

/** What a cue of the lexicon says. */
type Cue =
  | { readonly field: 'network'; readonly value: NetworkMode }
  | { readonly field: 'display'; readonly value: Display }
  | { readonly field: 'security'; readonly value: SecurityCue }
  | { readonly field: 'runtime'; readonly value: RuntimeClass }
  | { readonly field: 'persistence'; readonly value: Persistence }
  | { readonly field: 'gpu' }
  | { readonly field: 'allowWeak' }
  | { readonly field: 'priority'; readonly value: 'high' | 'low' }
  | { readonly field: 'minimal' }
  | { readonly field: 'generic' }
  | { readonly field: 'os'; readonly value: string }
  | { readonly field: 'distro'; readonly value: Distro }
  | { readonly field: 'release'; readonly distro: Distro; readonly release: string }
  | { readonly field: 'implied'; readonly need: string; readonly weak: boolean };

/** A mention of something, with the words it came from and whether it was negated. */
export interface Mention<T> {
  readonly value: T;
  readonly phrase: string;
  readonly negated: boolean;
  readonly start: number;
}

/** Everything extracted from a request. */
export interface Entities {
  readonly tokens: Tokens;
  readonly distros: Mention<Distro>[];
  /** Release words, with the distro they belong to. */
  readonly releases: Mention<{ distro: Distro; release: string }>[];
  /** A release number or word right after a distro word that the catalog does not know. */
  readonly unknownReleases: Mention<{ distro: Distro; word: string }>[];
  readonly unsupportedOs: Mention<string>[];
  readonly apps: Mention<AppEntry>[];
  readonly needs: Mention<string>[];
  readonly impliedNeeds: Mention<{ need: string; weak: boolean }>[];
  readonly presets: Mention<PresetEntry>[];
  readonly unprovidable: Mention<UnprovidableEntry>[];
  readonly quantities: Quantity[];
  /** Numbers with nothing saying what they count ('a desktop with 16'). */
  readonly bareNumbers: string[];
  readonly durations: Duration[];
  readonly network: Mention<NetworkMode>[];
  /** Weak allowlist words ('restricted to'), meaningful only with named sites. */
  readonly weakAllow: boolean;
  readonly domains: Mention<string>[];
  readonly blockedDomains: string[];
  readonly sites: Mention<{ name: string; domains: readonly string[] }>[];
  readonly peers: string[];
  readonly persistence: Mention<Persistence>[];
  readonly display: Mention<Display>[];
  readonly security: Mention<SecurityCue>[];
  readonly runtime: Mention<RuntimeClass>[];
  readonly gpu: Mention<true>[];
  readonly priority: Mention<'high' | 'low'>[];
  readonly minimal: boolean;
  readonly generic: boolean;
  readonly name: string | undefined;
  /** Hostile content: reason codes with the words they came from. */
  readonly hostile: { code: string; message: string }[];
}

/** Codenames distinctive enough to name their distro on their own. */
const DISTINCT_CODENAMES = new Set([
  'bookworm',
  'bullseye',
  'trixie',
  'jammy',
  'noble',
  'focal',
  'oracular',
  'rawhide',
]);

/** Hostile patterns: instructions aimed at the composer, and harm to the host or others. */
const HOSTILE: readonly { re: RegExp; code: string; message: string }[] = [
  {
    re: / (ignore|disregard|forget|override) (all |any |the |your )*(previous|prior|above|earlier|former|system)? ?(instructions|rules|prompts?|guidelines|constraints|policy|policies)/,
    code: 'request.injection',
    message: 'The request contains instructions aimed at the composer; they are not followed.',
  },
  {
    re: / (system prompt|jailbreak|developer mode|you are now|pretend you are|act as (an? )?(admin|root|system))/,
    code: 'request.injection',
    message: 'The request contains instructions aimed at the composer; they are not followed.',
  },
  {
    re: / (on|of|to|into|from|inside|access|reach|see|touch|read|control|mount) the host(?:'s)?(?: machine| system| os| computer)?(?= )| the host(?:'s)? (file ?system|root|disk|files|network|kernel|processes|machine|os|passwords?|ssh keys?|docker socket)| host (file ?system|root|filesystem|network|kernel|pid namespace|devices|mounts?) |host's /,
    code: 'request.host_access',
    message: 'Environments never get access to the host (its files, network, processes or kernel).',
  },
  {
    re: / (escape|break out of|breakout from|break out from|bypass|disable|turn off|switch off|remove|without) (the |any |all )?(sandbox|sandboxing|seccomp|apparmor|selinux|isolation|namespaces|security policy|security|firewall|container isolation)(?= )/,
    code: 'request.weaken_sandbox',
    message: 'The sandbox cannot be weakened or escaped by a request.',
  },
  {
    re: / (--privileged|privileged mode|privileged container|full root on|root access to|root on the|all capabilities|cap_sys_module|cap_sys_admin|unconfined|docker\.sock|\/var\/run\/docker|\/etc\/shadow|\/proc\/sysrq|\/dev\/mem)/,
    code: 'request.privileged',
    message:
      'Privileged access (all capabilities, host devices, the Docker socket, host secrets) is never granted.',
  },
  {
    re: / (rm -rf \/(?= )|rm -rf \/\*|mkfs|dd if=\/dev\/zero of=\/dev|:\(\)\{)/,
    code: 'request.destructive',
    message: 'The request contains destructive commands; they are not run.',
  },
  {
    re: / (ddos|dos attack|denial of service|botnet|flood (?:the |a )?(?:server|site|network)|spam (?:bots?|campaigns?|emails?|messages?)|send spam|mass email|million emails|credential stuffing|attack (?:on |against )?[a-z0-9-]+\.[a-z]{2,}|hack into|steal (?:passwords|credentials|data)|ransom)/,
    code: 'request.attack',
    message: 'Environments are not provided to attack or harm others.',
  },
  {
    re: / (neighbou?rs?'?s? (wifi|wi-fi|network|router|password|computer)|someone else'?s (wifi|account|password|network|computer)|other people'?s (wifi|accounts?|passwords?|computers?)|the whole internet|every open [a-z]+ server|exploit (every|all|random)|(?:flood|attack|hammer|take down) (?:\d{1,3}\.){3}\d{1,3}|until it goes down|take (it|them|the site|the server) down|without (their|the owner'?s) permission|unauthori[sz]ed access)/,
    code: 'request.attack',
    message: 'Environments are not provided to attack systems or accounts that are not yours.',
  },
];

const DOMAIN_RE = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,24})$/;
const NAME_TOKEN_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const PEER_VERBS = [
  'talk to',
  'talk with',
  'peer with',
  'peers with',
  'peered with',
  'same network as',
  'communicate with',
  'connected to',
  'connect to',
  'reach',
  'access',
  'network with',
  'linked to',
  'link to',
  'see',
];
const PEER_STRONG = new Set([
  'talk to',
  'talk with',
  'peer with',
  'peers with',
  'peered with',
  'same network as',
  'communicate with',
  'network with',
  'linked to',
  'link to',
]);
const PEER_SUFFIX = new Set([
  'environment',
  'environments',
  'env',
  'envs',
  'box',
  'vm',
  'container',
  'machine',
  'instance',
  'sandbox',
]);
const NOT_NAMES = new Set([
  'my',
  'the',
  'a',
  'an',
  'our',
  'it',
  'each',
  'other',
  'one',
  'another',
  'any',
  'all',
  'only',
  'internet',
  'network',
  'web',
  'host',
  'this',
  'that',
  'these',
  'them',
  'everything',
  'nothing',
  'anything',
  'sites',
  'websites',
  'site',
  'website',
  'domains',
  'the-internet',
]);

/** Looks up the words of a catalog and the lexicon; build once, extract many times. */
export class Extractor {
  private readonly catalogWords = new PhraseIndex<CatalogWord>();
  private readonly cues = new PhraseIndex<Cue>();
  private readonly knownWords: Set<string>;

  constructor(readonly index: CatalogIndex) {
    const cat = index.catalog;
    for (const app of cat.apps) {
      for (const a of app.aliases) this.catalogWords.add(a, { kind: 'app', app });
      for (const k of app.keywords) this.catalogWords.add(k, { kind: 'need', keyword: k });
    }
    for (const p of cat.presets)
      for (const k of p.keywords) this.catalogWords.add(k, { kind: 'preset', preset: p });
    for (const u of cat.unprovidable)
      for (const a of u.aliases) this.catalogWords.add(a, { kind: 'unprovidable', entry: u });

    const addAll = (phrases: readonly string[], cue: Cue) =>
      phrases.forEach((p) => this.cues.add(p, cue));
    for (const [mode, phrases] of Object.entries(NETWORK_CUES))
      addAll(phrases, { field: 'network', value: mode as NetworkMode });
    for (const [d, phrases] of Object.entries(DISPLAY_CUES))
      addAll(phrases, { field: 'display', value: d as Display });
    addAll(CONTAIN_CUES, { field: 'security', value: 'contain' });
    addAll(MALWARE_CUES, { field: 'security', value: 'malware' });
    addAll(MAXIMUM_CUES, { field: 'security', value: 'maximum' });
    addAll(PROTECT_CUES, { field: 'security', value: 'protect' });
    addAll(VM_CUES, { field: 'runtime', value: 'vm' });
    addAll(MICROVM_CUES, { field: 'runtime', value: 'microvm' });
    addAll(CONTAINER_CUES, { field: 'runtime', value: 'container' });
    addAll(PERSISTENT_CUES, { field: 'persistence', value: 'persistent' });
    addAll(EPHEMERAL_CUES, { field: 'persistence', value: 'ephemeral' });
    addAll(GPU_CUES, { field: 'gpu' });
    addAll(WEAK_ALLOW_CUES, { field: 'allowWeak' });
    addAll(PRIORITY_CUES.high, { field: 'priority', value: 'high' });
    addAll(PRIORITY_CUES.low, { field: 'priority', value: 'low' });
    addAll(MINIMAL_CUES, { field: 'minimal' });
    addAll(GENERIC_CUES, { field: 'generic' });
    for (const os of UNSUPPORTED_OS) addAll(os.words, { field: 'os', value: os.name });
    for (const d of cat.distros) {
      addAll(d.aliases, { field: 'distro', value: d.id });
      for (const r of d.releases) {
        for (const w of [r.id, ...r.aliases]) {
          if (DISTINCT_CODENAMES.has(w))
            this.cues.add(w, { field: 'release', distro: d.id, release: r.id });
        }
      }
    }
    for (const n of IMPLIED_NEEDS)
      addAll(n.words, { field: 'implied', need: n.need, weak: n.weak === true });
    for (const s of Object.keys(KNOWN_SITES)) this.cues.add(s, { field: 'generic' });
    this.knownWords = new Set([
      ...this.catalogWords.words,
      ...this.cues.words,
      'quad-core',
      'dual-core',
      'single-core',
      'octa-core',
      'hexa-core',
    ]);
  }

  /** Extracts the entities of a normalised request (text padded with spaces). */
  extract(text: string): Entities {
    // Names ('call it research-box', 'talk to db-server') come from the unsplit words, and are
    // then kept whole so their parts are not read as other words.
    const raw = new Tokens(text, this.knownWords, false);
    const name = extractName(raw);
    const keep = new Set(this.knownWords);
    if (name) keep.add(name);
    const peers = extractPeers(text, raw);
    for (const p of peers) keep.add(p);
    const tokens = new Tokens(text, keep);
    const cues = this.cues.match(tokens);
    const osSpans = cues.filter((c) => c.value.field === 'os');
    // A catalog word inside an unsupported OS phrase ('chrome' in 'chrome os') is part of the OS.
    const longerCue = (w: PhraseMatch<CatalogWord>) =>
      (w.value.kind === 'need' || w.value.kind === 'unprovidable') &&
      cues.some(
        (c) =>
          c.value.field === 'implied' &&
          w.start >= c.start &&
          w.end <= c.end &&
          c.end - c.start > w.end - w.start,
      );
    const words = this.catalogWords
      .match(tokens)
      .filter((w) => !longerCue(w))
      .filter(
        (w) =>
          !osSpans.some(
            (o) => w.start >= o.start && w.end <= o.end && o.end - o.start > w.end - w.start,
          ),
      );
    const mention = <T>(m: PhraseMatch<unknown>, value: T): Mention<T> => ({
      value,
      phrase: m.phrase,
      negated: tokens.isNegated(m.start),
      start: m.start,
    });

    const e: Entities = {
      tokens,
      distros: [],
      releases: [],
      unknownReleases: [],
      unsupportedOs: [],
      apps: [],
      needs: [],
      impliedNeeds: [],
      presets: [],
      unprovidable: [],
      quantities: extractQuantities(tokens),
      bareNumbers: bareNumbers(tokens),
      durations: extractDurations(tokens),
      network: [],
      weakAllow: false,
      domains: [],
      blockedDomains: [],
      sites: [],
      peers,
      persistence: [],
      display: [],
      security: [],
      runtime: [],
      gpu: [],
      priority: [],
      minimal: false,
      generic: false,
      name,
      hostile: [],
    };
    const mutable = e as { -readonly [K in keyof Entities]: Entities[K] };

    for (const w of words) {
      const v = w.value;
      if (v.kind === 'app') e.apps.push(mention(w, v.app));
      else if (v.kind === 'need') e.needs.push(mention(w, v.keyword));
      else if (v.kind === 'preset') e.presets.push(mention(w, v.preset));
      else e.unprovidable.push(mention(w, v.entry));
    }
    for (const c of cues) {
      const v = c.value;
      switch (v.field) {
        case 'network':
          e.network.push(mention(c, v.value));
          break;
        case 'display':
          e.display.push(mention(c, v.value));
          break;
        case 'security':
          e.security.push(mention(c, v.value));
          break;
        case 'runtime':
          e.runtime.push(mention(c, v.value));
          break;
        case 'persistence':
          e.persistence.push(mention(c, v.value));
          break;
        case 'allowWeak':
          mutable.weakAllow = true;
          break;
        case 'gpu':
          e.gpu.push(mention(c, true as const));
          break;
        case 'priority':
          e.priority.push(mention(c, v.value));
          break;
        case 'minimal':
          mutable.minimal = true;
          break;
        case 'generic':
          mutable.generic = true;
          break;
        case 'os':
          if (
            v.value === 'Windows' &&
            c.phrase === 'windows' &&
            WINDOWS_NOT_OS.includes(tokens.at(c.start - 1))
          )
            break;
          if (v.value === 'macOS' && c.phrase === 'mac' && tokens.at(c.end) === 'address') break;
          e.unsupportedOs.push(mention(c, v.value));
          break;
        case 'distro': {
          e.distros.push(mention(c, v.value));
          this.releaseAfter(tokens, c.end, v.value, e);
          break;
        }
        case 'release':
          e.releases.push(mention(c, { distro: v.distro, release: v.release }));
          break;
        case 'implied':
          e.impliedNeeds.push(mention(c, { need: v.need, weak: v.weak }));
          break;
      }
    }
    this.extractDomains(tokens, e, words);
    for (const h of HOSTILE) {
      if (h.re.test(text) && !e.hostile.some((x) => x.code === h.code))
        e.hostile.push({ code: h.code, message: h.message });
    }
    return e;
  }

  /** A release right after a distro word: 'debian 12', 'ubuntu 22.04', 'fedora 40', 'debian stable'. */
  private releaseAfter(tokens: Tokens, at: number, distro: Distro, e: Entities): void {
    let word = tokens.at(at);
    if (word === 'version' || word === 'release') word = tokens.at(at + 1);
    if (word === '') return;
    const next = tokens.at(at + 1);
    if (
      /^\d/.test(word) &&
      /^(gb|gib|mb|mib|tb|g|gigs?|cores?|cpus?|vcpus?|gpus?|ram|apps?|minutes?|hours?|days?)$/.test(
        next,
      )
    )
      return;
    if (/^\d+(gb|g|mb|m|tb)$/.test(word)) return;
    const r = this.index.release(distro, word);
    if (r) {
      e.releases.push({
        value: { distro, release: r.id },
        phrase: `${distro} ${word}`,
        negated: false,
        start: at,
      });
    } else if (/^\d+(\.\d+)?$/.test(word)) {
      e.unknownReleases.push({
        value: { distro, word },
        phrase: `${distro} ${word}`,
        negated: false,
        start: at,
      });
    } else if (word === 'lts' || word === 'latest' || word === 'current') {
      const def = this.index.defaultRelease(distro);
      e.releases.push({
        value: { distro, release: def.id },
        phrase: `${distro} ${word}`,
        negated: false,
        start: at,
      });
    }
  }

  private extractDomains(
    tokens: Tokens,
    e: Entities,
    words: readonly PhraseMatch<CatalogWord>[],
  ): void {
    tokens.list.forEach((raw, i) => {
      let t = raw;
      if (/^[a-z]+:\/\//.test(t)) {
        try {
          t = new URL(t).hostname;
        } catch {
          return;
        }
      } else t = t.replace(/\/.*$/, '');
      t = t.replace(/^www\./, '').replace(/\.$/, '');
      const m = DOMAIN_RE.exec(t);
      if (!m || !isKnownTld(m[1] as string) || raw.includes('@')) return;
      const before = [tokens.at(i - 1), tokens.at(i - 2), tokens.at(i - 3)];
      if (before.some((b) => BLOCK_WORDS.includes(b))) {
        e.blockedDomains.push(t);
        return;
      }
      e.domains.push({ value: t, phrase: raw, negated: tokens.isNegated(i), start: i });
    });
    const text = ` ${tokens.list.join(' ')} `;
    for (const [name, domains] of Object.entries(KNOWN_SITES)) {
      const at = text.indexOf(` ${name} `);
      if (at < 0) continue;
      const start = text.slice(0, at).split(' ').length - 1;
      const end = start + name.split(' ').length;
      // 'google' in 'google chrome' names a program, not a site.
      if (words.some((w) => w.start <= start && w.end >= end && w.end - w.start > end - start))
        continue;
      const before = [tokens.at(start - 1), tokens.at(start - 2)];
      if (before.some((b) => BLOCK_WORDS.includes(b))) {
        e.blockedDomains.push(domains[0] as string);
        continue;
      }
      e.sites.push({
        value: { name, domains },
        phrase: name,
        negated: tokens.isNegated(start),
        start,
      });
    }
  }
}

/** Integers after 'with'/'and' that end the request or a clause, with no unit: '16' in 'a desktop with 16'. */
function bareNumbers(tokens: Tokens): string[] {
  const out: string[] = [];
  tokens.list.forEach((t, i) => {
    if (!/^\d+$/.test(t)) return;
    const prev = tokens.at(i - 1);
    const next = tokens.at(i + 1);
    if (
      ['with', 'and', 'plus', 'give', 'it'].includes(prev) &&
      ['', 'and', 'please', 'thanks'].includes(next)
    )
      out.push(t);
  });
  return out;
}

function extractName(tokens: Tokens): string | undefined {
  const list = tokens.list;
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    let at = -1;
    if (t === 'called' || t === 'named') at = i + 1;
    else if ((t === 'name' || t === 'call') && list[i + 1] === 'it') at = i + 2;
    else if (t === 'name' && list[i + 1] === 'is') at = i + 2;
    if (at < 0) continue;
    let w = list[at];
    if (w === 'a' || w === 'the' || w === 'it') continue;
    if (w === undefined) continue;
    w = w
      .replace(/_/g, '-')
      .replace(/[^a-z0-9-]/g, '')
      .replace(/^-+|-+$/g, '');
    if (w && NAME_TOKEN_RE.test(w)) return w.slice(0, 63).replace(/-+$/, '');
  }
  return undefined;
}

function extractPeers(text: string, tokens: Tokens): string[] {
  const peers = new Set<string>();
  const list = tokens.list;
  const siteNames = new Set(Object.keys(KNOWN_SITES));
  for (const verb of PEER_VERBS) {
    const vw = verb.split(' ');
    for (let i = 0; i + vw.length <= list.length; i++) {
      if (!vw.every((w, k) => list[i + k] === w)) continue;
      let j = i + vw.length;
      let prefixed = false;
      while (
        ['my', 'the', 'our', 'other', 'environment', 'env', 'box', 'vm'].includes(list[j] ?? '')
      ) {
        if (['environment', 'env', 'box', 'vm'].includes(list[j] ?? '')) prefixed = true;
        j++;
      }
      const name = list[j];
      if (!name || !NAME_TOKEN_RE.test(name) || NOT_NAMES.has(name) || siteNames.has(name))
        continue;
      if (DOMAIN_RE.test(name)) continue;
      const suffixed = PEER_SUFFIX.has(list[j + 1] ?? '');
      if (!(prefixed || suffixed || (PEER_STRONG.has(verb) && !text.includes(` ${name}.`))))
        continue;
      if (!suffixed && !prefixed && PEER_STRONG.has(verb)) {
        // "talk to the internet" etc. are not peers; a bare word must look like a name.
        if (['internet', 'web', 'world', 'outside', 'people', 'others', 'everyone'].includes(name))
          continue;
      }
      peers.add(name.replace(/_/g, '-'));
      // "... as frontend and worker-2": more names joined by 'and'.
      let k = j + (suffixed ? 2 : 1);
      while (
        ['and', 'or'].includes(list[k] ?? '') &&
        list[k + 1] &&
        NAME_TOKEN_RE.test(list[k + 1] as string) &&
        !NOT_NAMES.has(list[k + 1] as string)
      ) {
        peers.add((list[k + 1] as string).replace(/_/g, '-'));
        k += PEER_SUFFIX.has(list[k + 2] ?? '') ? 3 : 2;
      }
    }
  }
  return [...peers];
}
