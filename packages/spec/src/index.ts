/**
 * @module @virtos/spec
 * The EnvironmentSpec (schema, JSON Schema export, versions and migrations), findings, and the
 * catalog: GenOS's knowledge of distributions, applications, presets and what it can never provide.
 */
export {
  AppSpec,
  BaseSpec,
  DISPLAYS,
  DISTROS,
  DomainName,
  EnvironmentSpecSchema,
  GRANTABLE_CAPABILITIES,
  ISOLATION_LEVELS,
  LifetimeSpec,
  NETWORK_MODES,
  NetworkSpec,
  PERSISTENCE_MODES,
  PRIORITIES,
  RUNTIME_CLASSES,
  ResourcesSpec,
  SECCOMP_PROFILES,
  SPEC_LIMITS,
  SPEC_VERSION,
  SecuritySpec,
} from './schema.js';
export type {
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
} from './schema.js';
export { BLOCKING_KINDS, FINDING_KINDS, finding, hasBlocking } from './findings.js';
export type { Finding, FindingKind, FindingOption } from './findings.js';
export { SpecErrors } from './errors.js';
export { SPEC_MIGRATIONS, migrateSpec } from './migrations.js';
export type { SpecMigration } from './migrations.js';
export { MAX_SPEC_BYTES, parseSpec, parseSpecJson } from './parse.js';
export type { SpecIssue } from './parse.js';
export { specJsonSchema } from './json-schema.js';
export { checkSpec } from './check.js';
export {
  CatalogIndex,
  catalogAvailability,
  checkCatalog,
  defaultCatalog,
} from './catalog/catalog.js';
export type { DistroAvailability } from './catalog/catalog.js';
export type {
  AppEntry,
  AppInterface,
  AppNetworkNeed,
  Availability,
  BuilderKind,
  Catalog,
  DistroEntry,
  PresetEntry,
  ReleaseEntry,
  UnprovidableEntry,
} from './catalog/types.js';
