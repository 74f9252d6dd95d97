/**
 * The composer: runs the stages in order and returns the spec with its findings.
 */
import {
  CatalogIndex,
  EnvironmentSpecSchema,
  SPEC_VERSION,
  catalogAvailability,
  checkSpec,
  finding,
  hasBlocking,
  parseSpec,
  specJsonSchema,
  type DistroAvailability,
  type EnvironmentSpec,
  type Finding,
} from '@virtos/spec';
import type { ComposerModel } from './model.js';
import { fillDefaults } from './stages/defaults.js';
import { draftFromSpec, emptyDraft, type Draft } from './stages/draft.js';
import { Extractor } from './stages/extract.js';
import { recognizeIntent, type Intent } from './stages/intent.js';
import { normalize } from './stages/normalize.js';
import { resolve } from './stages/resolve.js';
import { validateDraft, type HostCapacity } from './stages/validate.js';

/** What the composer made of a request. */
export interface ComposeResult {
  /** False when any finding blocks. */
  readonly ok: boolean;
  readonly intent: Intent;
  /** The spec; null when the request could not be understood or was refused. */
  readonly spec: EnvironmentSpec | null;
  readonly findings: readonly Finding[];
}

/** Options of a compose call. */
export interface ComposeOptions {
  /** The spec to modify (`virtos compose --edit`). */
  readonly base?: EnvironmentSpec;
}

/** Construction options of a {@link Composer}. */
export interface ComposerOptions {
  readonly catalog?: CatalogIndex;
  /** Whether each distro can be built here (from the host probe); default: what the catalog says. */
  readonly availability?: DistroAvailability;
  /** The host's capacity, for over-capacity findings; none when omitted. */
  readonly host?: HostCapacity;
  /** A model for requests the deterministic path cannot handle (see {@link composeWithModel}). */
  readonly model?: ComposerModel;
}

const PRESET_QUESTION_LIMIT = 6;

/** Turns requests into specs. Build once (it indexes the catalog), call many times. */
export class Composer {
  private readonly index: CatalogIndex;
  private readonly extractor: Extractor;
  private readonly availability: DistroAvailability;

  constructor(private readonly options: ComposerOptions = {}) {
    this.index = options.catalog ?? new CatalogIndex();
    this.extractor = new Extractor(this.index);
    this.availability = options.availability ?? catalogAvailability(this.index);
  }

  /** Composes a spec from a request, or modifies `options.base`. Never throws on any input. */
  compose(request: string, options: ComposeOptions = {}): ComposeResult {
    const normalized = normalize(request);
    const base = options.base;
    if (normalized.findings.length) {
      return {
        ok: false,
        intent: base ? 'modify' : 'create',
        spec: null,
        findings: normalized.findings,
      };
    }
    const text = normalized.text;
    const { intent, editLike } = recognizeIntent(text, base !== undefined);
    if (text.trim() === '') {
      if (base) return { ok: true, intent: 'modify', spec: base, findings: [] };
      return {
        ok: false,
        intent,
        spec: null,
        findings: [this.whatDoYouWant('The request is empty.')],
      };
    }
    const entities = this.extractor.extract(text);
    const draft: Draft =
      intent === 'modify' && base ? draftFromSpec(base, (id) => this.index.app(id)) : emptyDraft();
    const resolution = resolve(draft, entities, intent, this.index);
    const findings: Finding[] = [...resolution.findings];
    if (resolution.refused) return { ok: false, intent, spec: null, findings };
    if (!resolution.understood) {
      if (intent === 'modify' && base) {
        findings.push(
          finding('ambiguity', 'request', 'Nothing in the request says what to change.', {
            code: 'request.no_change',
          }),
        );
        return { ok: false, intent, spec: base, findings };
      }
      return {
        ok: false,
        intent,
        spec: null,
        findings: [this.whatDoYouWant('The request does not say what environment to make.')],
      };
    }
    if (editLike && intent === 'create' && !base) {
      findings.push(
        finding(
          'assumption',
          'request',
          'The request reads like a change, but no spec was given to change: making a new environment.',
          { code: 'request.edit_without_base' },
        ),
      );
    }
    findings.push(...fillDefaults(draft, resolution, this.index, intent === 'create'));
    findings.push(...validateDraft(draft, this.options.host));
    if (intent === 'create')
      draft.description ??= normalized.original.trim().replace(/\s+/g, ' ').slice(0, 2000);

    const spec = this.toSpec(draft);
    if (!spec.ok) {
      findings.push(
        finding('unsupported', 'request', `The composed spec is not valid: ${spec.message}.`, {
          code: 'spec.invalid',
        }),
      );
      return { ok: false, intent, spec: null, findings };
    }
    const codes = new Set(findings.map((f) => `${f.code}:${f.field}`));
    for (const f of checkSpec(spec.value, this.index, this.availability)) {
      if (!codes.has(`${f.code}:${f.field}`)) findings.push(f);
      codes.add(`${f.code}:${f.field}`);
    }
    return { ok: !hasBlocking(findings), intent, spec: spec.value, findings: dedupe(findings) };
  }

  /**
   * Like {@link compose}, then, when the result is not OK and a model is configured, asks the model
   * for a proposal and keeps it only if it validates and has fewer blocking findings.
   */
  async composeWithModel(
    request: string,
    options: ComposeOptions = {},
    signal?: AbortSignal,
  ): Promise<ComposeResult> {
    const first = this.compose(request, options);
    const model = this.options.model;
    if (first.ok || !model || first.findings.some((f) => f.code?.startsWith('request.')))
      return first;
    const proposal = await model.propose(
      { request, draft: first.spec, findings: first.findings, schema: specJsonSchema() },
      signal,
    );
    const parsed = parseSpec(proposal);
    if (!parsed.ok) return first;
    const findings = checkSpec(parsed.value, this.index, this.availability);
    findings.push(
      finding('assumption', 'request', `Proposed by the model ${model.id}; review it.`, {
        code: 'model.proposal',
      }),
    );
    const blocking = (fs: readonly Finding[]) => fs.filter((f) => f.blocking).length;
    if (blocking(findings) >= blocking(first.findings)) return first;
    return { ok: !hasBlocking(findings), intent: first.intent, spec: parsed.value, findings };
  }

  private whatDoYouWant(why: string): Finding {
    return finding('ambiguity', 'request', `${why} What should the environment be for?`, {
      code: 'request.unclear',
      options: this.index.catalog.presets
        .slice(0, PRESET_QUESTION_LIMIT)
        .map((p) => ({ value: p.id, label: p.name })),
    });
  }

  private toSpec(d: Draft): { ok: true; value: EnvironmentSpec } | { ok: false; message: string } {
    const distro = d.distro ?? 'debian';
    const candidate = {
      version: SPEC_VERSION,
      name: d.name,
      ...(d.description ? { description: d.description } : {}),
      base: { distro, release: d.release },
      runtime: d.runtime,
      display: d.display,
      apps: d.apps.map((a) => ({
        id: a.id,
        packages: [...(a.entry?.packages[distro] ?? a.packages ?? [])],
      })),
      network: {
        mode: d.network.mode,
        allow: d.network.mode === 'allowlist' ? d.network.allow : [],
        peers: d.network.peers,
      },
      resources: d.resources,
      persistence: d.persistence,
      security: {
        isolation: d.isolation,
        capabilities: d.capabilities,
        seccompProfile: d.seccomp,
        readOnlyRoot: d.readOnlyRoot,
      },
      lifetime: {
        ttlMinutes: d.ttlMinutes ?? null,
        idleSuspendMinutes: d.idleSuspendMinutes ?? null,
      },
      priority: d.priority,
    };
    const r = EnvironmentSpecSchema.safeParse(candidate);
    if (r.success) return { ok: true, value: r.data };
    const i = r.error.issues[0];
    return { ok: false, message: i ? `${i.path.join('.')}: ${i.message}` : 'invalid' };
  }
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.kind}|${f.field}|${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
