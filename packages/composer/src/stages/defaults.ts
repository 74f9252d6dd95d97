/**
 * Stage 6: defaults. Fills every open field of the draft, stating the defaults that matter as
 * `assumption` findings (docs/composer.md, "Policy").
 */
import {
  finding,
  type CatalogIndex,
  type Finding,
  type IsolationLevel,
  type RuntimeClass,
} from '@virtos/spec';
import type { Draft } from './draft.js';
import type { Resolution } from './resolve.js';
import { applyQuantity } from './resolve.js';

/** Base resources before apps and presets add theirs (MiB, cores). */
export const BASE_RESOURCES = {
  cpus: 1,
  memoryMiB: 1024,
  desktopMemoryMiB: 2048,
  diskMiB: 4096,
  desktopDiskMiB: 8192,
} as const;

/** Idle minutes after which a desktop is suspended when nothing was said. */
export const DEFAULT_DESKTOP_IDLE_MINUTES = 30;
/** Time-to-live of a security-critical ephemeral environment when nothing was said (minutes). */
export const DEFAULT_CONTAINED_TTL_MINUTES = 120;

const RUNTIME_RANK: Record<RuntimeClass, number> = { container: 0, microvm: 1, vm: 2 };

/** Fills the open fields of `draft`. */
export function fillDefaults(
  draft: Draft,
  r: Resolution,
  index: CatalogIndex,
  isNew: boolean,
): Finding[] {
  const out: Finding[] = [];
  const contain = r.cues.has('contain') || r.cues.has('malware') || r.cues.has('maximum');
  const critical = contain || r.cues.has('protect');
  const entries = draft.apps.flatMap((a) => (a.entry ? [a.entry] : []));

  if (!draft.distro) {
    draft.distro = 'debian';
    out.push(
      finding('assumption', 'base.distro', 'No distribution named: using Debian 12 (bookworm).', {
        code: 'default.distro',
      }),
    );
  }
  draft.release ??= index.defaultRelease(draft.distro).id;

  // Runtime: own kernel > security-critical > container. Apps may need more than asked.
  const needed = entries.reduce<RuntimeClass>(
    (acc, a) =>
      a.minRuntime && RUNTIME_RANK[a.minRuntime] > RUNTIME_RANK[acc] ? a.minRuntime : acc,
    'container',
  );
  if (!draft.runtime) {
    draft.runtime = needed !== 'container' ? needed : critical ? 'microvm' : 'container';
    if (draft.runtime === 'microvm' && isNew) {
      out.push(
        finding(
          'assumption',
          'runtime',
          'Security-critical request: runs in a micro-VM (its own kernel boundary).',
          { code: 'default.runtime_secure' },
        ),
      );
    }
  } else if (!r.said.has('runtime') && RUNTIME_RANK[needed] > RUNTIME_RANK[draft.runtime]) {
    if (!isNew) {
      out.push(
        finding(
          'assumption',
          'runtime',
          `Switched the runtime to '${needed}', which the apps need; it takes effect on restart.`,
          {
            code: 'default.runtime_upgrade',
          },
        ),
      );
    }
    draft.runtime = needed;
  }

  // Display: asked, else what the apps need.
  const appsNeedGui = entries.some((a) => a.interface === 'gui');
  if (!draft.display) {
    const services = entries.length > 0 && entries.every((a) => a.interface === 'service');
    const presetDisplay = r.presets.find((p) => p.display)?.display;
    draft.display = appsNeedGui ? 'desktop' : (presetDisplay ?? (services ? 'none' : 'terminal'));
    if (isNew)
      out.push(
        finding(
          'assumption',
          'display',
          `Display: ${draft.display}${appsNeedGui ? ' (graphical apps)' : ''}.`,
          { code: 'default.display' },
        ),
      );
  } else if (appsNeedGui && draft.display !== 'desktop' && !r.said.has('display')) {
    draft.display = 'desktop';
    out.push(
      finding(
        'assumption',
        'display',
        'Switched the display to a desktop for the graphical apps.',
        { code: 'default.display_upgrade' },
      ),
    );
  }

  // Network: unsaid means closed for contained work, open when an app needs it, else closed.
  const presetNetwork = r.presets.find((p) => p.network)?.network;
  if (!draft.network.mode && presetNetwork && !contain && presetNetwork !== 'allowlist') {
    draft.network.mode = presetNetwork;
    out.push(
      finding(
        'assumption',
        'network.mode',
        `Network '${presetNetwork}', as the ${r.presets[0]?.name ?? 'preset'} setup usually needs.`,
        { code: 'default.network_preset' },
      ),
    );
  }
  if (!draft.network.mode) {
    const torApp = entries.find((a) => a.network === 'tor');
    const netApp = entries.find((a) => a.network === 'required');
    if (contain) {
      draft.network.mode = 'none';
      out.push(
        finding('assumption', 'network.mode', 'No network: untrusted content stays inside.', {
          code: 'default.network_contained',
        }),
      );
    } else if (torApp) {
      draft.network.mode = 'tor';
      out.push(
        finding('assumption', 'network.mode', `Network through Tor, which ${torApp.name} needs.`, {
          code: 'default.network_tor',
        }),
      );
    } else if (netApp || r.cues.has('protect')) {
      draft.network.mode = 'internet';
      out.push(
        finding(
          'assumption',
          'network.mode',
          `Internet access${netApp ? `, which ${netApp.name} needs` : ''}. Say 'only reach <site>' to restrict it.`,
          { code: 'default.network_internet' },
        ),
      );
    } else {
      draft.network.mode = 'none';
      out.push(
        finding('assumption', 'network.mode', 'No network (nothing asked for it).', {
          code: 'default.network_none',
        }),
      );
    }
  }

  // Resources: the largest of the base, the apps and the presets; then relative changes.
  const desktop = draft.display === 'desktop';
  const want = (
    pick: (x: { memoryMiB?: number; cpus?: number; diskMiB?: number }) => number | undefined,
  ) =>
    Math.max(
      0,
      ...entries.map((a) => (a.resources ? (pick(a.resources) ?? 0) : 0)),
      ...r.presets.map((p) => (p.resources ? (pick(p.resources) ?? 0) : 0)),
    );
  const filled: string[] = [];
  if (draft.resources.cpus === undefined) {
    draft.resources.cpus = Math.max(
      BASE_RESOURCES.cpus,
      want((x) => x.cpus),
    );
    filled.push(`${draft.resources.cpus} CPU`);
  }
  if (draft.resources.memoryMiB === undefined) {
    draft.resources.memoryMiB = Math.max(
      desktop ? BASE_RESOURCES.desktopMemoryMiB : BASE_RESOURCES.memoryMiB,
      want((x) => x.memoryMiB),
    );
    filled.push(`${draft.resources.memoryMiB} MiB memory`);
  }
  if (draft.resources.diskMiB === undefined) {
    draft.resources.diskMiB = Math.max(
      desktop ? BASE_RESOURCES.desktopDiskMiB : BASE_RESOURCES.diskMiB,
      want((x) => x.diskMiB),
    );
    filled.push(`${draft.resources.diskMiB} MiB disk`);
  }
  draft.resources.gpus ??= 0;
  for (const q of r.pending) applyQuantity(draft, q);
  if (filled.length && isNew)
    out.push(
      finding('assumption', 'resources', `Resources: ${filled.join(', ')}.`, {
        code: 'default.resources',
      }),
    );

  if (!draft.persistence) {
    draft.persistence = 'ephemeral';
    if (isNew)
      out.push(
        finding(
          'assumption',
          'persistence',
          'Ephemeral: its files are gone when it ends. Say "persistent" to keep them (encrypted in the vault).',
          { code: 'default.persistence' },
        ),
      );
  }
  const isolation: IsolationLevel = draft.isolation ?? 'standard';
  draft.isolation = isolation;
  if (!draft.seccomp || r.said.has('security.isolation')) {
    draft.seccomp = isolation === 'standard' ? 'default' : 'strict';
  }
  draft.readOnlyRoot ??= draft.runtime !== 'vm';
  const caps = new Set(draft.capabilities);
  for (const a of entries) for (const c of a.capabilities ?? []) caps.add(c);
  draft.capabilities = [...caps];

  if (draft.ttlMinutes === undefined) {
    draft.ttlMinutes =
      contain && draft.persistence === 'ephemeral' ? DEFAULT_CONTAINED_TTL_MINUTES : null;
    if (draft.ttlMinutes !== null) {
      out.push(
        finding(
          'assumption',
          'lifetime.ttlMinutes',
          `Ends after ${draft.ttlMinutes} minutes (untrusted work is short-lived).`,
          { code: 'default.ttl' },
        ),
      );
    }
  }
  if (draft.idleSuspendMinutes === undefined)
    draft.idleSuspendMinutes = desktop ? DEFAULT_DESKTOP_IDLE_MINUTES : null;
  draft.priority ??= 'normal';
  draft.name ??= defaultName(draft, r);
  return out;
}

function defaultName(draft: Draft, r: Resolution): string {
  const main = r.presets[0]?.id ?? draft.apps[0]?.id ?? draft.distro ?? 'env';
  const raw = `${main}-${draft.display ?? 'env'}`;
  const slug = raw
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  return slug.slice(0, 63).replace(/-+$/, '') || 'env';
}
