/**
 * @module @virtos/runtime
 * Runtimes for environments: the RuntimeDriver interface with its capabilities, the one conformance
 * suite every driver passes, the in-memory `fake/v1` driver, the `oci` driver (crun, runc, runsc) and
 * the host capability probe behind `virtos doctor`.
 */
export {
  ALLOWED_OPERATIONS,
  DRIVER_KINDS,
  assertEnvironmentId,
  assertOperation,
  canExec,
  canPause,
  canSnapshot,
  hasDisplay,
  isDriverKind,
} from './common/driver.js';
export type {
  AppLaunch,
  CreateRequest,
  DisplayCapability,
  DisplayEndpoint,
  DriverCapability,
  DriverContext,
  DriverKind,
  DriverSpec,
  EnvironmentState,
  EnvironmentStatus,
  ExecCapability,
  ExecRequest,
  ExecResult,
  ExitStatus,
  KnownDriverKind,
  PauseCapability,
  ProcessRequest,
  RuntimeDriver,
  SnapshotCapability,
} from './common/driver.js';
export { RuntimeErrors } from './common/errors.js';
export { FakeDriver } from './common/fake-driver.js';
export { CONFORMANCE_CASES, describeDriverConformance } from './node/conformance.js';
export type {
  ConformanceCase,
  ConformanceOptions,
  ConformanceTestApi,
} from './node/conformance.js';
