/**
 * Stage 4: resolution. Applies the extracted entities to a draft: against the catalog (apps, needs,
 * presets, things never provided, distros and releases) and as edits of the draft's fields. The
 * same code serves a new environment (empty draft) and a modification (draft of the given spec).
 */
import {
  finding,
  type AppEntry,
  type CatalogIndex,
  type Finding,
  type IsolationLevel,
  type NetworkMode,
  type PresetEntry,
  type RuntimeClass,
} from '@virtos/spec';
import type { Draft } from './draft.js';
import type { Entities, SecurityCue } from './extract.js';
import type { Intent } from './intent.js';
import type { Quantity } from './quantities.js';

/** What resolution learnt that the defaults stage needs. */
export interface Resolution {
  readonly findings: Finding[];
  /** Fields this request itself set (not inherited from a base spec). */
  readonly said: Set<string>;
  /** Security cue groups present. */
  readonly cues: Set<SecurityCue>;
  /** Presets asked for. */
  readonly presets: PresetEntry[];
  /** Relative quantities to apply after defaults (a new environment has no value to change yet). */
  readonly pending: Quantity[];
  /** The request asked for something the composer will not build at all (hostile). */
  readonly refused: boolean;
  /** Anything at all was understood. */
  readonly understood: boolean;
}

const ISOLATION_RANK: Record<IsolationLevel, number> = { standard: 0, hardened: 1, maximum: 2 };
const RUNTIME_RANK: Record<RuntimeClass, number> = { container: 0, microvm: 1, vm: 2 };
const CUE_ISOLATION: Record<SecurityCue, IsolationLevel> = {
  contain: 'hardened',
  protect: 'hardened',
  malware: 'maximum',
  maximum: 'maximum',
};

function addApp(draft: Draft, app: AppEntry): boolean {
  if (draft.apps.some((a) => a.id === app.id)) return false;
  draft.apps.push({ id: app.id, entry: app });
  return true;
}

function removeApp(draft: Draft, id: string): boolean {
  const before = draft.apps.length;
  draft.apps = draft.apps.filter((a) => a.id !== id);
  return draft.apps.length !== before;
}

function resourceField(target: Quantity['target']): 'cpus' | 'memoryMiB' | 'diskMiB' | 'gpus' {
  return target === 'memory' ? 'memoryMiB' : target === 'disk' ? 'diskMiB' : target;
}

/** Applies a quantity to the draft (relative ones need a current value). */
export function applyQuantity(draft: Draft, q: Quantity): void {
  const field = resourceField(q.target);
  const current = draft.resources[field] ?? 0;
  let next: number;
  switch (q.op) {
    case 'set':
      next = q.value;
      break;
    case 'add':
      next = current + q.value;
      break;
    case 'sub':
      next = current - q.value;
      break;
    case 'mul':
      next = current * q.value;
      break;
  }
  draft.resources[field] = field === 'cpus' ? Math.round(next * 100) / 100 : Math.round(next);
}

/** Applies the entities to the draft. */
export function resolve(
  draft: Draft,
  e: Entities,
  intent: Intent,
  index: CatalogIndex,
): Resolution {
  const findings: Finding[] = [];
  const said = new Set<string>();
  const cues = new Set<SecurityCue>();
  const presets: PresetEntry[] = [];
  const pending: Quantity[] = [];
  const modify = intent === 'modify';

  for (const h of e.hostile)
    findings.push(finding('unsupported', 'request', h.message, { code: h.code }));

  // --- operating system and release
  for (const os of e.unsupportedOs.filter((m) => !m.negated)) {
    if (findings.some((f) => f.code === 'os.unsupported' && f.message.startsWith(os.value)))
      continue;
    findings.push(
      finding(
        'unsupported',
        'base.distro',
        `${os.value} cannot be provided: GenOS provisions Linux environments.`,
        {
          code: 'os.unsupported',
          options: index.catalog.distros.map((d) => ({
            value: d.id,
            label: `${d.name} ${index.defaultRelease(d.id).id}`,
          })),
        },
      ),
    );
  }
  const distros = [...new Set(e.distros.filter((m) => !m.negated).map((m) => m.value))];
  if (distros.length > 1) {
    findings.push(
      finding(
        'ambiguity',
        'base.distro',
        `Several distributions are named (${distros.join(', ')}): which one?`,
        {
          code: 'distro.ambiguous',
          options: distros.map((d) => ({ value: d, label: index.distro(d).name })),
        },
      ),
    );
  }
  const releases = e.releases.filter((r) => !r.negated);
  const chosenDistro =
    distros[0] ??
    (releases[0]?.value.distro && !distros.length ? releases[0].value.distro : undefined);
  if (chosenDistro && chosenDistro !== draft.distro) {
    draft.distro = chosenDistro;
    draft.release = undefined;
    said.add('base.distro');
  } else if (chosenDistro) said.add('base.distro');
  if (draft.distro) {
    const rel = releases.find((r) => r.value.distro === draft.distro);
    const foreign = releases.find((r) => r.value.distro !== draft.distro);
    if (rel) {
      draft.release = rel.value.release;
      said.add('base.release');
    } else if (foreign) {
      findings.push(
        finding(
          'conflict',
          'base.release',
          `'${foreign.phrase}' is a ${index.distro(foreign.value.distro).name} release, not ${index.distro(draft.distro).name}.`,
          {
            code: 'release.mismatch',
          },
        ),
      );
    }
    const unknown = e.unknownReleases.find((r) => r.value.distro === draft.distro);
    if (unknown && !rel) {
      const d = index.distro(draft.distro);
      findings.push(
        finding(
          'unsupported',
          'base.release',
          `${d.name} has no release '${unknown.value.word}'.`,
          {
            code: 'release.unknown',
            options: d.releases.map((r) => ({ value: r.id, label: `${d.name} ${r.id}` })),
          },
        ),
      );
    }
  }

  // --- runtime class asked in words
  const runtimes = e.runtime.filter((m) => !m.negated).map((m) => m.value);
  if (runtimes.length) {
    draft.runtime = runtimes.reduce((a, b) => (RUNTIME_RANK[b] > RUNTIME_RANK[a] ? b : a));
    said.add('runtime');
  }

  // --- security cues
  for (const m of e.security) if (!m.negated) cues.add(m.value);
  for (const c of cues) {
    const level = CUE_ISOLATION[c];
    if (!draft.isolation || ISOLATION_RANK[level] > ISOLATION_RANK[draft.isolation]) {
      draft.isolation = level;
      said.add('security.isolation');
    }
  }

  // --- apps, presets, things never provided, needs
  const excluded = new Set<string>();
  for (const m of e.apps) {
    if (m.negated || (modify && isRemoval(e, m.start))) {
      excluded.add(m.value.id);
      if (removeApp(draft, m.value.id)) said.add('apps');
      continue;
    }
    if (addApp(draft, m.value)) said.add('apps');
  }
  for (const m of e.presets) {
    if (m.negated) continue;
    presets.push(m.value);
    for (const id of m.value.apps) {
      const app = index.app(id);
      if (app && !excluded.has(id) && addApp(draft, app)) said.add('apps');
    }
  }
  for (const m of e.unprovidable) {
    if (m.negated) continue;
    const u = m.value;
    const alternatives = u.alternatives
      .map((id) => index.app(id))
      .filter((a): a is AppEntry => a !== undefined);
    const first = alternatives[0];
    if (u.autoSubstitute && first) {
      addApp(draft, first);
      said.add('apps');
      findings.push(
        finding(
          'substitution',
          'apps',
          `${u.name} is not available (${u.reason}); using ${first.name} instead.`,
          { code: 'app.substituted' },
        ),
      );
    } else {
      findings.push(
        finding('unsupported', 'apps', `${u.name} cannot be provided: ${u.reason}.`, {
          code: 'app.unprovidable',
          options: alternatives.map((a) => ({ value: a.id, label: a.name })),
        }),
      );
    }
  }
  const handledNeeds = new Set<string>();
  for (const m of e.needs) {
    if (handledNeeds.has(m.value)) continue;
    handledNeeds.add(m.value);
    if (m.negated) continue;
    const candidates = index.catalog.apps.filter((a) => a.keywords.includes(m.value));
    // A need already met by a named app of that kind ("gimp for photo editing").
    if (
      draft.apps.some(
        (a) => a.entry && (a.entry.keywords.includes(m.value) || a.entry.aliases.includes(m.value)),
      )
    )
      continue;
    // "gimp for photo editing": the need names what a just-named app is for.
    const forNamedApp =
      ['for', 'to', 'as'].includes(e.tokens.at(m.start - 1)) &&
      e.apps.some((x) => !x.negated && x.start < m.start && m.start - x.start <= 4);
    if (forNamedApp) continue;
    const def = candidates.find((a) => a.isDefaultFor?.includes(m.value));
    const pick = def ?? (candidates.length === 1 ? candidates[0] : undefined);
    if (pick) {
      if (excluded.has(pick.id)) continue;
      if (addApp(draft, pick)) {
        said.add('apps');
        findings.push(
          finding('assumption', 'apps', `Took ${pick.name} for '${m.phrase}'.`, {
            code: 'app.default_for_need',
          }),
        );
      }
    } else if (candidates.length > 1) {
      findings.push(
        finding('ambiguity', 'apps', `Several apps fit '${m.phrase}': which one?`, {
          code: 'app.ambiguous',
          options: candidates.slice(0, 8).map((a) => ({ value: a.id, label: a.name })),
        }),
      );
    }
  }
  const namedApps = draft.apps.length > 0;
  for (const m of e.impliedNeeds) {
    const { need, weak } = m.value;
    if ((weak && namedApps) || m.negated || handledNeeds.has(need)) continue;
    handledNeeds.add(need);
    const meets = (a: AppEntry) =>
      a.keywords.some((k) => k === need || k.includes(need)) ||
      a.isDefaultFor?.includes(need) === true;
    if (draft.apps.some((a) => a.entry && meets(a.entry))) continue;
    let pick = index.catalog.apps.find((a) => a.isDefaultFor?.includes(need));
    if (need === 'browser' && e.network.some((n) => n.value === 'tor' && !n.negated)) {
      pick = index.catalog.apps.find((a) => a.network === 'tor' && a.interface === 'gui') ?? pick;
    }
    if (pick && !excluded.has(pick.id) && addApp(draft, pick)) {
      said.add('apps');
      findings.push(
        finding('assumption', 'apps', `Added ${pick.name} for '${m.phrase}'.`, {
          code: 'app.implied',
        }),
      );
    }
  }

  // --- display
  const displays = e.display.filter((m) => !m.negated);
  if (displays.length) {
    const kinds = new Set(displays.map((d) => d.value));
    const noGui = displays.some(
      (d) => d.value === 'terminal' && /\b(no|without|only)\b/.test(d.phrase),
    );
    if (kinds.has('desktop') && noGui) {
      findings.push(
        finding(
          'conflict',
          'display',
          'The request asks both for a desktop and for no graphical interface.',
          { code: 'display.conflict' },
        ),
      );
    }
    draft.display =
      kinds.has('desktop') && !noGui ? 'desktop' : kinds.has('terminal') ? 'terminal' : 'none';
    said.add('display');
  }

  // --- network
  applyNetwork(draft, e, modify, findings, said);

  // --- resources
  const sets = new Map<string, Quantity>();
  for (const q of e.quantities) {
    if (q.guessed) {
      findings.push(
        finding(
          'assumption',
          `resources.${resourceField(q.target)}`,
          `Took '${q.phrase}' as ${q.target === 'memory' ? 'memory' : 'disk'} size.`,
          { code: 'resources.guessed' },
        ),
      );
    }
    if (q.op === 'set') {
      const prev = sets.get(q.target);
      if (prev && prev.value !== q.value) {
        findings.push(
          finding(
            'conflict',
            `resources.${resourceField(q.target)}`,
            `Two different ${q.target} sizes are asked for ('${prev.phrase}' and '${q.phrase}').`,
            { code: 'resources.conflict' },
          ),
        );
      }
      sets.set(q.target, q);
      applyQuantity(draft, q);
    } else if (modify) applyQuantity(draft, q);
    else pending.push(q);
    said.add(`resources.${resourceField(q.target)}`);
  }
  for (const n of e.bareNumbers) {
    findings.push(
      finding('ambiguity', 'resources', `What is '${n}': CPUs, memory or disk?`, {
        code: 'resources.unit_missing',
        options: [
          { value: `cpus=${n}`, label: `${n} CPUs` },
          { value: `memoryMiB=${Number(n) * 1024}`, label: `${n} GiB of memory` },
          { value: `diskMiB=${Number(n) * 1024}`, label: `${n} GiB of disk` },
        ],
      }),
    );
  }
  const gpuCue = e.gpu.find((g) => !g.negated);
  const noGpu = e.gpu.find((g) => g.negated);
  if (noGpu) {
    draft.resources.gpus = 0;
    said.add('resources.gpus');
  } else if (gpuCue && !sets.has('gpus')) {
    draft.resources.gpus = Math.max(1, draft.resources.gpus ?? 0);
    said.add('resources.gpus');
  }

  // --- persistence
  const pers = new Set(
    e.persistence.map((p) =>
      p.negated ? (p.value === 'persistent' ? 'ephemeral' : 'persistent') : p.value,
    ),
  );
  if (pers.size > 1) {
    findings.push(
      finding(
        'conflict',
        'persistence',
        "The request asks both to keep and to discard the environment's files.",
        { code: 'persistence.conflict' },
      ),
    );
  }
  if (pers.size) {
    draft.persistence = pers.has('persistent') ? 'persistent' : 'ephemeral';
    said.add('persistence');
  }

  // --- lifetime, priority, name
  for (const d of e.durations) {
    if (d.kind === 'ttl') {
      draft.ttlMinutes = d.minutes;
      said.add('lifetime.ttlMinutes');
    } else {
      draft.idleSuspendMinutes = d.minutes;
      said.add('lifetime.idleSuspendMinutes');
    }
  }
  const prio = e.priority.filter((p) => !p.negated);
  if (prio.length) {
    draft.priority = prio.some((p) => p.value === 'high') ? 'high' : 'low';
    said.add('priority');
  }
  if (e.name) {
    draft.name = e.name;
    said.add('name');
  }
  if (e.minimal && !modify) said.add('apps.minimal');

  const understood =
    said.size > 0 ||
    findings.length > 0 ||
    e.generic ||
    e.minimal ||
    e.needs.length +
      e.unprovidable.length +
      e.unsupportedOs.length +
      e.quantities.length +
      e.network.length >
      0;
  return { findings, said, cues, presets, pending, refused: e.hostile.length > 0, understood };
}

/** True when the app at `start` is being removed ("remove firefox", "replace firefox with ..."). */
function isRemoval(e: Entities, start: number): boolean {
  const t = e.tokens;
  return (
    ['replace', 'swap', 'instead'].includes(t.at(start - 1)) ||
    t.isNegated(start) ||
    (t.at(start - 2) === 'get' && t.at(start - 1) === 'rid')
  );
}

function applyNetwork(
  draft: Draft,
  e: Entities,
  modify: boolean,
  findings: Finding[],
  said: Set<string>,
): void {
  const modes = new Set<NetworkMode>();
  for (const m of e.network) {
    if (m.negated) {
      if (m.value === 'internet') modes.add('none');
      continue;
    }
    modes.add(m.value);
  }
  const domains = [
    ...new Set([
      ...e.domains.filter((d) => !d.negated).map((d) => d.value),
      ...e.sites.filter((s) => !s.negated).flatMap((s) => s.value.domains),
    ]),
  ];
  const removedDomains = [
    ...e.domains.filter((d) => d.negated).map((d) => d.value),
    ...e.blockedDomains,
  ];
  if (e.sites.some((s) => !s.negated)) {
    findings.push(
      finding(
        'assumption',
        'network.allow',
        `Named sites mapped to their domains: ${e.sites
          .filter((s) => !s.negated)
          .map((s) => `${s.value.name} -> ${s.value.domains.join(', ')}`)
          .join('; ')}.`,
        { code: 'network.site_domains' },
      ),
    );
  }
  if (modify && draft.network.mode === 'allowlist' && removedDomains.length) {
    const before = draft.network.allow.length;
    draft.network.allow = draft.network.allow.filter((d) => !removedDomains.includes(d));
    if (draft.network.allow.length !== before) said.add('network.allow');
  } else if (e.blockedDomains.length) {
    findings.push(
      finding(
        'unsupported',
        'network.allow',
        `Blocking single sites (${e.blockedDomains.join(', ')}) is not supported: environments allow a list of sites, or everything.`,
        {
          code: 'network.blocklist',
          options: [{ value: 'allowlist', label: 'Allow only the sites you list' }],
        },
      ),
    );
  }
  const onlyWord = ['only', 'just', 'exclusively', 'solely'].some((w) => e.tokens.list.includes(w));
  const explicitAllow = modes.has('allowlist') || ((onlyWord || e.weakAllow) && domains.length > 0);
  if (explicitAllow && domains.length) modes.add('allowlist');
  if (explicitAllow && modes.has('internet')) {
    findings.push(
      finding(
        'conflict',
        'network.mode',
        `The request asks for full network access and also to allow only ${domains.join(', ') || 'some sites'}.`,
        {
          code: 'network.conflict',
          options: [
            { value: 'allowlist', label: `Only ${domains.join(', ') || 'the listed sites'}` },
            { value: 'internet', label: 'The internet' },
          ],
        },
      ),
    );
    modes.delete('internet');
  }
  if (domains.length && !modes.has('internet') && !modes.has('tor')) modes.add('allowlist');
  if (
    modify &&
    draft.network.mode === 'internet' &&
    !explicitAllow &&
    modes.size === 1 &&
    modes.has('allowlist')
  ) {
    findings.push(
      finding(
        'assumption',
        'network.allow',
        `${domains.join(', ')} ${domains.length === 1 ? 'is' : 'are'} already reachable: the environment has internet access.`,
        { code: 'network.already_reachable' },
      ),
    );
    return;
  }
  if (modes.size === 0) {
    if (e.peers.length) {
      draft.network.peers = [...new Set([...draft.network.peers, ...e.peers])];
      said.add('network.peers');
    }
    return;
  }
  if (modes.has('none') && modes.size > 1) {
    findings.push(
      finding(
        'conflict',
        'network.mode',
        `The request asks for no network and also for ${[...modes].filter((m) => m !== 'none').join(' and ')} access.`,
        {
          code: 'network.conflict',
          options: [...modes].map((m) => ({
            value: m,
            label:
              m === 'none'
                ? 'No network'
                : m === 'allowlist'
                  ? `Only ${domains.join(', ') || 'listed sites'}`
                  : m === 'tor'
                    ? 'Through Tor'
                    : 'The internet',
          })),
        },
      ),
    );
  }
  if (modes.has('tor') && modes.has('allowlist') && domains.length) {
    findings.push(
      finding(
        'conflict',
        'network.mode',
        'Tor and an allowlist of sites cannot be combined: Tor hides which site is reached.',
        {
          code: 'network.tor_allowlist',
          options: [
            { value: 'tor', label: 'Everything through Tor' },
            { value: 'allowlist', label: `Only ${domains.join(', ')}` },
          ],
        },
      ),
    );
  }
  let mode: NetworkMode;
  if (modes.has('none') && modes.size === 1) mode = 'none';
  else if (modes.has('tor')) mode = 'tor';
  else if (modes.has('allowlist')) mode = 'allowlist';
  else if (modes.has('internet')) mode = 'internet';
  else mode = 'none';
  if (mode === 'allowlist') {
    const base = modify && draft.network.mode === 'allowlist' ? draft.network.allow : [];
    draft.network.allow = [...new Set([...base, ...domains])];
    if (draft.network.allow.length === 0) {
      findings.push(
        finding(
          'ambiguity',
          'network.allow',
          'Which sites may it reach? Name them (e.g. wikipedia.org).',
          { code: 'network.allow_missing' },
        ),
      );
    }
  } else {
    if (modes.has('internet') && domains.length && !modes.has('tor')) {
      findings.push(
        finding(
          'assumption',
          'network.mode',
          `Full internet access was asked for, so ${domains.join(', ')} ${domains.length === 1 ? 'is' : 'are'} reachable along with everything else.`,
          { code: 'network.internet_includes' },
        ),
      );
    }
    draft.network.allow = [];
  }
  draft.network.mode = mode;
  said.add('network.mode');
  if (e.peers.length) {
    draft.network.peers = [...new Set([...draft.network.peers, ...e.peers])];
    said.add('network.peers');
  }
}
