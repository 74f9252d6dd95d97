/**
 * The EnvironmentSpec: the checked, versioned description of a computing environment. Field names
 * and values are a contract that scripts and the daemon API rely on; change them only with a new
 * version and a migration (see migrations.ts).
 */
import { z } from 'zod';

/** The current version of the spec format. */
export const SPEC_VERSION = 1;

/** Distributions GenOS knows. Lowercase ids. */
export const DISTROS = ['debian', 'ubuntu', 'alpine', 'fedora', 'arch'] as const;
/** A distribution id. */
export type Distro = (typeof DISTROS)[number];

/** Runtime classes; a host maps each to a real runtime (see docs/architecture.md). */
export const RUNTIME_CLASSES = ['container', 'microvm', 'vm'] as const;
/** A runtime class. */
export type RuntimeClass = (typeof RUNTIME_CLASSES)[number];

/** What the environment shows: a graphical desktop, a terminal, or nothing (a service). */
export const DISPLAYS = ['desktop', 'terminal', 'none'] as const;
/** A display kind. */
export type Display = (typeof DISPLAYS)[number];

/** Network modes: loopback only, listed domains only, the internet (NAT), or everything through Tor. */
export const NETWORK_MODES = ['none', 'allowlist', 'internet', 'tor'] as const;
/** A network mode. */
export type NetworkMode = (typeof NETWORK_MODES)[number];

/** Whether the home of the environment survives termination (saved encrypted into the vault). */
export const PERSISTENCE_MODES = ['ephemeral', 'persistent'] as const;
/** A persistence mode. */
export type Persistence = (typeof PERSISTENCE_MODES)[number];

/**
 * Isolation levels: `standard` (namespaces, no capabilities, default seccomp), `hardened` (plus a
 * stricter seccomp profile and no peers by default), `maximum` (plus its own kernel or gVisor).
 */
export const ISOLATION_LEVELS = ['standard', 'hardened', 'maximum'] as const;
/** An isolation level. */
export type IsolationLevel = (typeof ISOLATION_LEVELS)[number];

/** Named seccomp profiles the sandbox knows. */
export const SECCOMP_PROFILES = ['default', 'strict', 'unconfined-vm'] as const;
/** A seccomp profile name. */
export type SeccompProfile = (typeof SECCOMP_PROFILES)[number];

/** Scheduling priorities, lowest first. */
export const PRIORITIES = ['low', 'normal', 'high'] as const;
/** A scheduling priority. */
export type Priority = (typeof PRIORITIES)[number];

/** Linux capabilities a spec may grant (everything else is always dropped). */
export const GRANTABLE_CAPABILITIES = [
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_RAW',
  'CAP_NET_ADMIN',
  'CAP_SYS_PTRACE',
  'CAP_SYS_ADMIN',
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_SETUID',
  'CAP_SETGID',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
  'CAP_SYS_CHROOT',
  'CAP_MKNOD',
] as const;
/** A capability a spec may grant. */
export type Capability = (typeof GRANTABLE_CAPABILITIES)[number];

/** Upper bounds any spec must respect, whatever the host (a host may allow less). */
export const SPEC_LIMITS = {
  maxCpus: 256,
  maxMemoryMiB: 4 * 1024 * 1024,
  maxDiskMiB: 64 * 1024 * 1024,
  maxGpus: 16,
  minMemoryMiB: 64,
  minDiskMiB: 256,
  maxApps: 64,
  maxAllow: 256,
  maxPeers: 64,
  maxTtlMinutes: 365 * 24 * 60,
} as const;

const DOMAIN_RE =
  /^(\*\.)?(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const APP_ID_RE = /^[a-z0-9][a-z0-9+.-]{0,63}$/;
const PACKAGE_RE = /^[a-z0-9][a-z0-9+._-]{0,127}$/i;
const RELEASE_RE = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/** A lowercase domain name, optionally with a leading `*.` wildcard. */
export const DomainName = z
  .string()
  .regex(DOMAIN_RE, 'must be a lowercase domain name such as wikipedia.org or *.example.com');

/** An application of the environment: a catalog id and the distro packages it resolves to. */
export const AppSpec = z
  .object({
    id: z.string().regex(APP_ID_RE, 'must be a lowercase catalog id such as firefox'),
    packages: z.array(z.string().regex(PACKAGE_RE, 'must be a distro package name')).max(64),
  })
  .strict();

/** The base operating system. */
export const BaseSpec = z
  .object({
    distro: z.enum(DISTROS),
    release: z
      .string()
      .regex(RELEASE_RE, 'must be a release name or number such as bookworm or 12'),
  })
  .strict();

/** Network policy: the mode, the domains allowed in `allowlist` mode, and the peers it may reach. */
export const NetworkSpec = z
  .object({
    mode: z.enum(NETWORK_MODES),
    allow: z.array(DomainName).max(SPEC_LIMITS.maxAllow),
    peers: z
      .array(z.string().regex(NAME_RE, 'must be an environment name or group name'))
      .max(SPEC_LIMITS.maxPeers),
  })
  .strict();

/** Resources. Memory and disk in MiB; CPUs may be fractional (0.5 = half a core). */
export const ResourcesSpec = z
  .object({
    cpus: z.number().positive().max(SPEC_LIMITS.maxCpus),
    memoryMiB: z.number().int().min(SPEC_LIMITS.minMemoryMiB).max(SPEC_LIMITS.maxMemoryMiB),
    diskMiB: z.number().int().min(SPEC_LIMITS.minDiskMiB).max(SPEC_LIMITS.maxDiskMiB),
    gpus: z.number().int().min(0).max(SPEC_LIMITS.maxGpus),
  })
  .strict();

/** Security policy applied by the sandbox. */
export const SecuritySpec = z
  .object({
    isolation: z.enum(ISOLATION_LEVELS),
    capabilities: z.array(z.enum(GRANTABLE_CAPABILITIES)).max(GRANTABLE_CAPABILITIES.length),
    seccompProfile: z.enum(SECCOMP_PROFILES),
    readOnlyRoot: z.boolean(),
  })
  .strict();

/** Lifetime. `null` means "never". Minutes. */
export const LifetimeSpec = z
  .object({
    ttlMinutes: z.number().int().positive().max(SPEC_LIMITS.maxTtlMinutes).nullable(),
    idleSuspendMinutes: z.number().int().positive().max(SPEC_LIMITS.maxTtlMinutes).nullable(),
  })
  .strict();

/** The environment spec, version 1. */
export const EnvironmentSpecSchema = z
  .object({
    version: z.literal(SPEC_VERSION),
    name: z.string().regex(NAME_RE, 'must be 1-63 lowercase letters, digits or dashes'),
    description: z.string().max(2000).optional(),
    base: BaseSpec,
    runtime: z.enum(RUNTIME_CLASSES),
    display: z.enum(DISPLAYS),
    apps: z.array(AppSpec).max(SPEC_LIMITS.maxApps),
    network: NetworkSpec,
    resources: ResourcesSpec,
    persistence: z.enum(PERSISTENCE_MODES),
    security: SecuritySpec,
    lifetime: LifetimeSpec,
    priority: z.enum(PRIORITIES),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.network.mode !== 'allowlist' && spec.network.allow.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'allow'],
        message: `must be empty unless network.mode is 'allowlist' (it is '${spec.network.mode}')`,
      });
    }
    if (spec.network.mode === 'allowlist' && spec.network.allow.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'allow'],
        message: "must list at least one domain when network.mode is 'allowlist'",
      });
    }
    const ids = new Set<string>();
    spec.apps.forEach((app, i) => {
      if (ids.has(app.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['apps', i, 'id'],
          message: `duplicate app '${app.id}'`,
        });
      }
      ids.add(app.id);
    });
    if (new Set(spec.security.capabilities).size !== spec.security.capabilities.length) {
      ctx.addIssue({ code: 'custom', path: ['security', 'capabilities'], message: 'duplicates' });
    }
  });

/** A validated environment spec. */
export type EnvironmentSpec = z.infer<typeof EnvironmentSpecSchema>;
/** One application entry of a spec. */
export type AppSpec = z.infer<typeof AppSpec>;
/** The network part of a spec. */
export type NetworkSpec = z.infer<typeof NetworkSpec>;
/** The resources part of a spec. */
export type ResourcesSpec = z.infer<typeof ResourcesSpec>;
/** The security part of a spec. */
export type SecuritySpec = z.infer<typeof SecuritySpec>;
/** The lifetime part of a spec. */
export type LifetimeSpec = z.infer<typeof LifetimeSpec>;
/** The base part of a spec. */
export type BaseSpec = z.infer<typeof BaseSpec>;
