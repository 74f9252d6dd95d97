/**
 * @module @virtos/sandbox
 * The sandbox: the policy that turns a spec's security, resources and display into an OCI runtime
 * config (namespaces, capabilities, seccomp, masked paths, RAM-backed writable mounts, cgroup limits),
 * and the network modes.
 */
export {
  DEFAULT_PIDS_LIMIT,
  DESKTOP_USER,
  SHM_MiB,
  SandboxErrors,
  VNC_DIR_IN_SANDBOX,
  buildOciConfig,
  seccompLevelFor,
} from './common/policy/oci-config.js';
export type {
  BindMount,
  SandboxPolicyInput,
  UserNamespaceMapping,
} from './common/policy/oci-config.js';
export {
  DEFAULT_DENIED_SYSCALLS,
  SECCOMP_DENY_ERRNO,
  STRICT_EXTRA_DENIED_SYSCALLS,
  buildSeccompProfile,
} from './common/policy/seccomp.js';
export type { SeccompLevel } from './common/policy/seccomp.js';
export type {
  OciConfig,
  OciMount,
  OciNamespace,
  OciSeccomp,
  OciSeccompRule,
} from './common/policy/oci-types.js';
export { createNetworkManager } from './node/network/manager.js';
export type {
  NetworkAttachment,
  NetworkEnvRef,
  NetworkManager,
  NetworkManagerOptions,
  TorEndpoint,
} from './node/network/manager.js';
export type { Resolver } from './node/network/egress-proxy.js';
export { NetworkErrors } from './node/network/errors.js';
export { checkNetworkSupport } from './node/network/support.js';
export type { NetworkSupportCheck } from './node/network/support.js';
