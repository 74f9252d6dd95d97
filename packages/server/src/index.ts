/**
 * @module @virtos/server
 * The VirtOS daemon: the composition root. It serves the HTTP API under `/api/` (Fastify, OpenAPI
 * generated from the zod schemas), authenticates every route with session tokens obtained by
 * unlocking the vault, checks Host and Origin, exports Prometheus metrics, keeps the orchestrator's
 * registry inside the unlocked vault (personal mode), and wires the concrete runtime in
 * `builtins.ts`. The CLI's client for the daemon lives here too. See docs/daemon.md.
 */
export { ServerErrors } from './errors.js';
export type { ServerErrorCode } from './errors.js';
export {
  HTTP_STATUS_BY_CLASS,
  HTTP_STATUS_BY_CODE,
  errorBody,
  httpStatusFor,
} from './common/http-status.js';
export type { ErrorBody } from './common/http-status.js';
export {
  allowedHostHeaders,
  allowedOrigins,
  checkRequestHeaders,
  isLoopbackHost,
} from './common/request-guard.js';
export type { GuardHeaders, ListenIdentity } from './common/request-guard.js';
export { PrometheusText, LabeledCounter } from './common/prometheus.js';
export { DEFAULT_BODY_LIMIT, bearerToken, buildApp } from './node/app.js';
export type { AppOptions, HttpMetrics } from './node/app.js';
export { SessionManager, TOKEN_BYTES } from './node/session-manager.js';
export type { SessionManagerOptions } from './node/session-manager.js';
export { PersonalState, isWrongSecret } from './node/personal-state.js';
export type { PersonalStateOptions, UnlockedService } from './node/personal-state.js';
export {
  EVENTS_COLLECTION,
  RECORDS_COLLECTION,
  VaultRegistryStore,
} from './node/vault-registry-store.js';
export { UpgradeRouter } from './node/upgrade-router.js';
export type { UpgradeAuthenticator, UpgradeHandler } from './node/upgrade-router.js';
export {
  DAEMON_VERSION,
  DEFAULT_PORT,
  createDaemon,
  formatRegistryChoice,
  parseOnExit,
  parseRegistryChoice,
  recordRegistryChoice,
  registryChoiceFile,
  registryChoiceFor,
} from './node/daemon.js';
export type {
  Daemon,
  DaemonOptions,
  OnExitPolicy,
  OrchestratorFactory,
  RegistryChoice,
} from './node/daemon.js';
export { createBuiltins, defaultStateDir } from './builtins.js';
export type { Builtins, BuiltinsOptions } from './builtins.js';
export {
  DaemonClient,
  HttpTransport,
  InjectTransport,
  errorFrom,
  homeFiles,
  readJsonFile,
  removeFile,
  writePrivateJson,
} from './node/client.js';
export type {
  CreateOutcome,
  DaemonFile,
  SessionFile,
  Transport,
  TransportResponse,
} from './node/client.js';
export { runDaemon } from './node/run-daemon.js';
export type { RunDaemonOptions, RunningDaemon } from './node/run-daemon.js';
export {
  certificateFailure,
  certificateFingerprint,
  ensureSelfSigned,
  loadTlsFiles,
  pinnedTlsOptions,
  requireTlsBeyondLoopback,
  resolveTls,
  selfSignedPaths,
} from './node/tls.js';
export type { CertificatePin, TlsChoice, TlsMaterial } from './node/tls.js';
