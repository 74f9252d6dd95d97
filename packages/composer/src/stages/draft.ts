/**
 * The draft: a spec being built. Every field is either set (by the request, or by the spec being
 * modified) or still open; defaults fill the open ones at the end.
 */
import type {
  AppEntry,
  Capability,
  Display,
  Distro,
  EnvironmentSpec,
  IsolationLevel,
  NetworkMode,
  Persistence,
  Priority,
  RuntimeClass,
  SeccompProfile,
} from '@virtos/spec';

/** An app in the draft: a catalog entry, or an app of the base spec the catalog no longer knows. */
export interface DraftApp {
  readonly id: string;
  readonly entry: AppEntry | undefined;
  /** Packages kept from the base spec, when the catalog does not know the app. */
  readonly packages?: readonly string[];
}

/** A spec being built. `undefined` means "not decided yet". */
export interface Draft {
  distro: Distro | undefined;
  release: string | undefined;
  runtime: RuntimeClass | undefined;
  display: Display | undefined;
  apps: DraftApp[];
  network: { mode: NetworkMode | undefined; allow: string[]; peers: string[] };
  resources: { cpus?: number; memoryMiB?: number; diskMiB?: number; gpus?: number };
  persistence: Persistence | undefined;
  isolation: IsolationLevel | undefined;
  seccomp: SeccompProfile | undefined;
  capabilities: Capability[];
  readOnlyRoot: boolean | undefined;
  ttlMinutes: number | null | undefined;
  idleSuspendMinutes: number | null | undefined;
  priority: Priority | undefined;
  name: string | undefined;
  description: string | undefined;
}

/** An empty draft, for a new environment. */
export function emptyDraft(): Draft {
  return {
    distro: undefined,
    release: undefined,
    runtime: undefined,
    display: undefined,
    apps: [],
    network: { mode: undefined, allow: [], peers: [] },
    resources: {},
    persistence: undefined,
    isolation: undefined,
    seccomp: undefined,
    capabilities: [],
    readOnlyRoot: undefined,
    ttlMinutes: undefined,
    idleSuspendMinutes: undefined,
    priority: undefined,
    name: undefined,
    description: undefined,
  };
}

/** A draft holding everything of an existing spec, for a modification. */
export function draftFromSpec(
  spec: EnvironmentSpec,
  appEntry: (id: string) => AppEntry | undefined,
): Draft {
  return {
    distro: spec.base.distro,
    release: spec.base.release,
    runtime: spec.runtime,
    display: spec.display,
    apps: spec.apps.map((a) => {
      const entry = appEntry(a.id);
      return entry ? { id: a.id, entry } : { id: a.id, entry, packages: a.packages };
    }),
    network: {
      mode: spec.network.mode,
      allow: [...spec.network.allow],
      peers: [...spec.network.peers],
    },
    resources: { ...spec.resources },
    persistence: spec.persistence,
    isolation: spec.security.isolation,
    seccomp: spec.security.seccompProfile,
    capabilities: [...spec.security.capabilities],
    readOnlyRoot: spec.security.readOnlyRoot,
    ttlMinutes: spec.lifetime.ttlMinutes,
    idleSuspendMinutes: spec.lifetime.idleSuspendMinutes,
    priority: spec.priority,
    name: spec.name,
    description: spec.description,
  };
}
