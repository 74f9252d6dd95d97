/**
 * @module @virtos/orchestrator
 * GenOS's orchestration engine: the lifecycle state table of environments, the registry (store
 * interface, in-memory and SQLite stores, one shared store suite), the scheduler (hosts, capacity,
 * priorities with ageing, queue, quotas) and the level-based reconciler, all behind the
 * {@link Orchestrator}. It sees the runtime only through the Provisioner interface.
 */
export {
  ALLOWED,
  LIFECYCLE_STATES,
  OPERATIONS,
  TRANSITIONS,
  assertAllowed,
  holdsCapacity,
  isActive,
  isAllowed,
} from './common/lifecycle.js';
export type { LifecycleState, Operation } from './common/lifecycle.js';
export { OrchestratorErrors } from './common/errors.js';
export type {
  EnvironmentEvent,
  EnvironmentEventType,
  EnvironmentRecord,
  HostInfo,
  RecordDisplay,
} from './common/types.js';
export { MemoryRegistryStore } from './common/store.js';
export type { RegistryStore } from './common/store.js';
export { describeRegistryStoreSuite, sampleSpec } from './common/store-suite.js';
export type { StoreSuiteOptions, StoreSuiteTestApi } from './common/store-suite.js';
export { DEFAULT_AGING_MS, PRIORITY_VALUES, Scheduler } from './common/scheduler.js';
export type { HostUsage, SchedulePlan, ScheduleRequest } from './common/scheduler.js';
export type {
  ProvisionPhase,
  ProvisionProgress,
  ProvisionRequest,
  ProvisionedEnvironment,
  Provisioner,
  RuntimeChoice,
} from './common/provisioner-port.js';
export { SqliteRegistryStore } from './node/sqlite-store.js';
export { HOST_RESERVED_MIB, localHost } from './node/host.js';
export { Orchestrator, PROVISIONING_BUCKETS_S } from './node/orchestrator.js';
export type {
  DurationHistogram,
  ModifyResult,
  OrchestratorMetrics,
  OrchestratorOptions,
  OwnerQuota,
} from './node/orchestrator.js';
