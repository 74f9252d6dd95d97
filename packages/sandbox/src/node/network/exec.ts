/**
 * The one place that runs privileged tools (ip, nft, sysctl). Commands are argument vectors passed to
 * execFile, never shell strings, so no environment name or domain can be interpreted by a shell.
 */
import { execFile } from 'node:child_process';

import { NetworkErrors } from './errors.js';

/** Output of a finished command. */
export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of one command: text for stdin, cancellation, and a time limit in ms. */
export interface CommandOptions {
  readonly input?: string;
  readonly signal?: AbortSignal;
  /** Kill the command after this many ms (default 15 000). */
  readonly timeoutMs?: number;
}

/** Runs a program with arguments; injectable so unit tests can record commands instead. */
export type CommandRunner = (
  file: string,
  args: readonly string[],
  opts?: CommandOptions,
) => Promise<CommandOutput>;

const TOOL_PACKAGE: Record<string, string> = {
  ip: 'iproute2',
  nft: 'nftables',
  sysctl: 'procps',
};

/** Runs commands with execFile; maps a missing program and a permission failure to coded errors. */
export const execRunner: CommandRunner = (file, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      {
        timeout: opts.timeoutMs ?? 15_000,
        maxBuffer: 16 * 1024 * 1024,
        ...(opts.signal && { signal: opts.signal }),
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, stderr });
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        const command = [file, ...args].join(' ');
        if (code === 'ENOENT') {
          const pkg = TOOL_PACKAGE[file] ?? file;
          reject(
            NetworkErrors.create('tool_missing', `Cannot run '${file}': it is not installed.`, {
              subject: file,
              hint: `Install ${pkg} (Debian: apt-get install ${pkg}).`,
              cause: error,
            }),
          );
          return;
        }
        const text = String(stderr).trim();
        if (/Operation not permitted|Permission denied/i.test(text)) {
          reject(
            NetworkErrors.create('not_permitted', `'${command}' was refused: ${text}`, {
              subject: file,
              hint: 'Network namespaces and nftables need root (or CAP_NET_ADMIN and CAP_SYS_ADMIN).',
              cause: error,
            }),
          );
          return;
        }
        reject(
          NetworkErrors.create('setup_failed', `'${command}' failed: ${text || error.message}`, {
            subject: file,
            cause: error,
            details: { stderr: text },
          }),
        );
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
