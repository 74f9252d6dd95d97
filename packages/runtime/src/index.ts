/**
 * @module @virtos/runtime
 * Runtimes for environments: the RuntimeDriver interface with its capabilities, the one conformance
 * suite every driver passes, the in-memory `fake/v1` driver, the `oci` driver (crun, runc, runsc) and
 * the host capability probe behind `virtos doctor`, and the Provisioner that turns a spec into a running
 * environment (images + network + driver) and tears it down exactly.
 */
export {
  ALLOWED_OPERATIONS,
  DRIVER_KINDS,
  assertEnvironmentId,
  assertOperation,
  canExec,
  canExecStream,
  canOpenPty,
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
  ExecOutputSink,
  ExecRequest,
  ExecResult,
  ExecStreamCapability,
  ExecStreamResult,
  ExitStatus,
  KnownDriverKind,
  PauseCapability,
  ProcessRequest,
  PtyCapability,
  PtyRequest,
  PtySession,
  RuntimeDriver,
  SnapshotCapability,
} from './common/driver.js';
export { RuntimeErrors } from './common/errors.js';
export { FakeDriver } from './common/fake-driver.js';
export { FakeProvisioner, vmUnavailable } from './common/fake-provisioner.js';
export type { FakeProvisionerOptions } from './common/fake-provisioner.js';
export type {
  ProvisionPhase,
  ProvisionProgress,
  ProvisionRequest,
  ProvisionedEnvironment,
  Provisioner,
  RuntimeChoice,
} from './common/provisioner.js';
export { canAdopt } from './common/provisioner.js';
export {
  DEFAULT_PROVISIONER_STATE_DIR,
  PROVISIONER_KINDS,
  createProvisioner,
} from './node/provisioner.js';
export type { ProvisionerOptions } from './node/provisioner.js';
export { CONFORMANCE_CASES, describeDriverConformance } from './node/conformance.js';
export type {
  ConformanceCase,
  ConformanceOptions,
  ConformanceTestApi,
} from './node/conformance.js';
export { OCI_RUNTIMES, OciCli } from './node/oci/oci-cli.js';
export type { OciRuntimeName, OciState } from './node/oci/oci-cli.js';
export {
  CGROUP_PARENT,
  CONTAINER_PREFIX,
  DEFAULT_STATE_DIR,
  OciDriver,
  RUNSC_DESKTOP_REASON,
  cgroupRoots,
} from './node/oci/oci-driver.js';
export type { OciDriverOptions } from './node/oci/oci-driver.js';
export {
  DESKTOP_APP_COMMANDS,
  DESKTOP_GEOMETRY,
  FIREFOX_PROFILE,
  appLaunchFor,
  desktopAppsFor,
  desktopInitScript,
} from './node/oci/desktop.js';
export { createMiniRootfs, findStaticBusybox } from './node/oci/mini-rootfs.js';
export type { MiniRootfs } from './node/oci/mini-rootfs.js';
export { RfbSession, countColours, encodePng } from './node/rfb/rfb-client.js';
export type { RfbFrame, RfbServerInit } from './node/rfb/rfb-client.js';
export {
  CRUN_HYBRID_REMEDY,
  applyCrunCgroupRemedy,
  createOciDriver,
  probeCgroups,
  probeHost,
  probeRuntime,
  probeRuntimes,
  probeVirtualization,
  which,
} from './node/probe.js';
export type { FeatureProbe, HostReport, ProbeStatus, RuntimeProbe } from './node/probe.js';
export { cleanupLeftovers, supervisedEnvironmentIds } from './node/cleanup.js';
export type { Leftover } from './node/cleanup.js';
