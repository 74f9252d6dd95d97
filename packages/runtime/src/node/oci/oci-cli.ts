/**
 * A client for the OCI runtime command line (crun, runc, runsc). It knows each runtime's global flags
 * and nothing about environments. Every call is abortable.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { throwIfAborted } from '@virtos/core';
import { RuntimeErrors } from '../../common/errors.js';

/** The OCI runtimes the driver can use. */
export const OCI_RUNTIMES = ['crun', 'runc', 'runsc'] as const;
/** One of {@link OCI_RUNTIMES}. */
export type OciRuntimeName = (typeof OCI_RUNTIMES)[number];

/** The result of one runtime command. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** State as printed by `<runtime> state <id>`. */
export interface OciState {
  readonly id: string;
  readonly status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  readonly pid: number;
}

const MAX_OUTPUT = 1024 * 1024;
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Files the detached shim keeps in a bundle directory. */
export const SHIM_FILES = {
  /** The container's first process (written by the runtime). */
  pid: 'pid',
  /** The runtime's exit code, written once it has ended. */
  exit: 'exit',
  /** The last output of the container and the runtime. */
  log: 'output.log',
} as const;

/** How much output the shim keeps, bytes. */
export const SHIM_LOG_BYTES = 65536;

/** Collects at most 1 MiB of a stream. */
export function collect(stream: NodeJS.ReadableStream | null): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (c: Buffer) => {
    if (size < MAX_OUTPUT) chunks.push(c.subarray(0, MAX_OUTPUT - size));
    size += c.length;
  });
  return () => Buffer.concat(chunks).toString('utf8');
}

/** Options of one runtime. */
export interface OciCliOptions {
  readonly runtime: OciRuntimeName;
  /** Absolute path of the binary (found on PATH by the probe). */
  readonly binary: string;
  /** The runtime's state root (`--root`), one per runtime under the driver's state dir. */
  readonly root: string;
}

/** Runs one OCI runtime binary. */
export class OciCli {
  constructor(readonly options: OciCliOptions) {}

  /** Global flags before the subcommand. */
  globalArgs(extra: { readonly networkNone?: boolean; readonly hostUds?: boolean } = {}): string[] {
    const args = ['--root', this.options.root];
    if (this.options.runtime === 'runsc') {
      // SECURITY: --oci-seccomp makes gVisor apply the config's seccomp profile inside the sandbox
      // (without it runsc ignores linux.seccomp). --network=none gives a loopback-only stack when the
      // environment has no prepared network namespace.
      args.push('--oci-seccomp');
      if (extra.networkNone === true) args.push('--network=none');
      // SECURITY: with a prepared netns (the bundle's network namespace path) gVisor must use the
      // kernel stack of that namespace (--network=host means "the namespace runsc starts in", which
      // is the environment's own): every host and in-netns nftables rule of the mode then applies.
      // Debian's runsc refuses --network=sandbox in any netns on this kernel (docs/network.md).
      else if (extra.networkNone === false) args.push('--network=host');
      // SECURITY: desktops only: lets the sandbox create the VNC socket as a real host socket in its
      // one bind-mounted, per-environment /run/vnc directory (gVisor otherwise keeps sockets inside).
      // It does not allow connecting to host sockets (that would be `open`).
      if (extra.hostUds) args.push('--host-uds=create');
    }
    return args;
  }

  /** Spawns the runtime with `args` after the global flags; stdio as given. */
  spawn(
    args: readonly string[],
    opts: {
      readonly cwd?: string;
      readonly networkNone?: boolean;
      readonly hostUds?: boolean;
    } = {},
  ): ChildProcess {
    return spawn(
      this.options.binary,
      [
        ...this.globalArgs({
          ...(opts.networkNone !== undefined && { networkNone: opts.networkNone }),
          hostUds: opts.hostUds ?? false,
        }),
        ...args,
      ],
      {
        cwd: opts.cwd ?? '/',
        stdio: ['ignore', 'pipe', 'pipe'],
        // The runtime must not inherit the daemon's secrets through the environment.
        env: { PATH: SAFE_PATH },
      },
    );
  }

  /**
   * Starts `run --bundle B --pid-file B/pid <name>` in the foreground of a detached shim: a `/bin/sh`
   * in its own session (not in the daemon's process group), so the environment outlives the
   * daemon. The shim keeps the runtime's exit code (the container's, 128 + n after signal n) in
   * `B/exit` once the runtime has ended, and the last {@link SHIM_LOG_BYTES} of the container's
   * and the runtime's output in `B/output.log` (written when the output ends, so it stays bounded).
   * Returns the shim's pid.
   */
  spawnDetachedRun(
    bundle: string,
    name: string,
    opts: { readonly networkNone?: boolean; readonly hostUds?: boolean } = {},
  ): number | undefined {
    const args = [
      ...this.globalArgs({
        ...(opts.networkNone !== undefined && { networkNone: opts.networkNone }),
        hostUds: opts.hostUds ?? false,
      }),
      'run',
      '--bundle',
      bundle,
      '--pid-file',
      `${bundle}/${SHIM_FILES.pid}`,
      name,
    ];
    // $0 is the runtime binary, "$@" its arguments: no argument is ever parsed by the shell.
    const script =
      `{ "$0" "$@"; echo $? > "$VIRTOS_BUNDLE/${SHIM_FILES.exit}.tmp"; } 2>&1 ` +
      `| tail -c ${SHIM_LOG_BYTES} > "$VIRTOS_BUNDLE/${SHIM_FILES.log}"; ` +
      `mv "$VIRTOS_BUNDLE/${SHIM_FILES.exit}.tmp" "$VIRTOS_BUNDLE/${SHIM_FILES.exit}"`;
    // SECURITY: the shim runs as root like the daemon, with a fixed script, PATH and bundle path
    // only (no daemon secrets in its environment); its output goes to a root-only file on /run.
    const child = spawn('/bin/sh', ['-c', script, this.options.binary, ...args], {
      cwd: bundle,
      detached: true,
      stdio: 'ignore',
      env: { PATH: SAFE_PATH, VIRTOS_BUNDLE: bundle },
    });
    child.on('error', () => undefined);
    child.unref();
    return child.pid;
  }

  /** Runs a command to completion. Abort kills the runtime process and throws `core.cancelled`. */
  async run(
    signal: AbortSignal,
    args: readonly string[],
    opts: { readonly networkNone?: boolean } = {},
  ): Promise<CliResult> {
    throwIfAborted(signal, `${this.options.runtime} ${args[0] ?? ''}`);
    const child = this.spawn(args, opts);
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const code = await new Promise<number>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (c, sig) => resolve(c ?? 128 + (sig === 'SIGKILL' ? 9 : 15)));
      });
      throwIfAborted(signal, `${this.options.runtime} ${args[0] ?? ''}`);
      return { code, stdout: out(), stderr: err() };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw RuntimeErrors.create('unavailable', `${this.options.runtime} is not installed.`, {
          subject: this.options.binary,
          hint: `Install it: apt-get install ${this.options.runtime}`,
        });
      }
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Runs a command and throws `runtime.failed` with its stderr when it exits non-zero. */
  async check(signal: AbortSignal, args: readonly string[], subject: string): Promise<string> {
    const r = await this.run(signal, args);
    if (r.code !== 0) {
      throw RuntimeErrors.create(
        'failed',
        `${this.options.runtime} ${args[0]} failed for ${subject}: ${r.stderr.trim() || `exit ${r.code}`}`,
        { subject, details: { runtime: this.options.runtime, exitCode: r.code } },
      );
    }
    return r.stdout;
  }

  /** `state <id>`, or undefined when the runtime does not know the container. */
  async state(signal: AbortSignal, id: string): Promise<OciState | undefined> {
    const r = await this.run(signal, ['state', id]);
    if (r.code !== 0) return undefined;
    try {
      return JSON.parse(r.stdout) as OciState;
    } catch {
      return undefined;
    }
  }

  /** Container ids the runtime knows under this root. */
  async list(signal: AbortSignal): Promise<string[]> {
    const r = await this.run(signal, ['list', '--format', 'json']);
    if (r.code !== 0 || r.stdout.trim() === '' || r.stdout.trim() === 'null') return [];
    try {
      const items = JSON.parse(r.stdout) as { id: string }[] | null;
      return (items ?? []).map((i) => i.id);
    } catch {
      return [];
    }
  }
}
