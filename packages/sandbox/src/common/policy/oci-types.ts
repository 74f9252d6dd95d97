/**
 * The part of the OCI runtime-spec (config.json, version 1.0.2) that the sandbox policy writes. Field
 * names follow the specification exactly so the object can be serialised as it is.
 */

/** A mount entry of config.json. */
export interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options?: readonly string[];
}

/** One seccomp rule argument comparison. */
export interface OciSeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: 'SCMP_CMP_EQ' | 'SCMP_CMP_MASKED_EQ' | 'SCMP_CMP_NE';
}

/** One seccomp rule: syscalls, action, and optional argument filters (ANDed). */
export interface OciSeccompRule {
  readonly names: readonly string[];
  readonly action: 'SCMP_ACT_ERRNO' | 'SCMP_ACT_ALLOW' | 'SCMP_ACT_KILL_PROCESS';
  readonly errnoRet?: number;
  readonly args?: readonly OciSeccompArg[];
}

/** The seccomp section of config.json. */
export interface OciSeccomp {
  readonly defaultAction: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  readonly defaultErrnoRet?: number;
  readonly architectures: readonly string[];
  readonly syscalls: readonly OciSeccompRule[];
}

/** A namespace entry; `path` joins an existing namespace instead of creating one. */
export interface OciNamespace {
  readonly type: 'pid' | 'ipc' | 'uts' | 'mount' | 'network' | 'cgroup' | 'user';
  readonly path?: string;
}

/** A uid/gid mapping for a user namespace. */
export interface OciIdMapping {
  readonly containerID: number;
  readonly hostID: number;
  readonly size: number;
}

/** A device cgroup rule. */
export interface OciDeviceRule {
  readonly allow: boolean;
  readonly type?: 'a' | 'c' | 'b';
  readonly major?: number;
  readonly minor?: number;
  readonly access?: string;
}

/** Cgroup resource limits. Memory in bytes; CPU quota and period in microseconds. */
export interface OciResources {
  readonly memory?: { readonly limit: number; readonly swap: number };
  readonly cpu?: { readonly quota: number; readonly period: number };
  readonly pids?: { readonly limit: number };
  readonly devices: readonly OciDeviceRule[];
}

/** A resource limit of the process (setrlimit). */
export interface OciRlimit {
  readonly type: string;
  readonly hard: number;
  readonly soft: number;
}

/** The process section of config.json. */
export interface OciProcess {
  readonly terminal: boolean;
  readonly user: { readonly uid: number; readonly gid: number; readonly additionalGids?: number[] };
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly capabilities: {
    readonly bounding: readonly string[];
    readonly effective: readonly string[];
    readonly permitted: readonly string[];
    readonly inheritable: readonly string[];
    readonly ambient: readonly string[];
  };
  readonly rlimits: readonly OciRlimit[];
  readonly noNewPrivileges: boolean;
  readonly oomScoreAdj?: number;
}

/** A whole config.json as the sandbox writes it. */
export interface OciConfig {
  readonly ociVersion: string;
  readonly process: OciProcess;
  readonly root: { readonly path: string; readonly readonly: boolean };
  readonly hostname: string;
  readonly mounts: readonly OciMount[];
  readonly annotations: Readonly<Record<string, string>>;
  readonly linux: {
    readonly namespaces: readonly OciNamespace[];
    readonly uidMappings?: readonly OciIdMapping[];
    readonly gidMappings?: readonly OciIdMapping[];
    readonly cgroupsPath?: string;
    readonly resources: OciResources;
    readonly seccomp?: OciSeccomp;
    readonly maskedPaths: readonly string[];
    readonly readonlyPaths: readonly string[];
  };
}
