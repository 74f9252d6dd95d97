/**
 * `virtos env shell`: a line shell over the exec API. The runtime's exec has no TTY, so each line
 * runs as `/bin/sh -c` in the environment; the working directory is carried between lines by
 * printing it after each command behind a marker line that the client strips.
 */
import { createInterface } from 'node:readline';
import type { DaemonClient } from '@virtos/server';
import type { CliContext } from '../../io.js';

/** The marker before the working directory on the last line of stdout. */
export const PWD_MARKER = '\u001e__virtos_pwd__';

/**
 * The command that runs one line in a directory and reports the new working directory; the caller
 * appends the directory ($1) and the line ($2) as arguments, so the line is never spliced into the
 * script text.
 */
export function lineScript(): string[] {
  return [
    '/bin/sh',
    '-c',
    // $1 is the directory; the line runs in a subshell-free eval so `cd` sticks for the marker.
    `cd "$1" 2>/dev/null || cd; eval "$2"; __rc=$?; printf '\\n${PWD_MARKER}%s\\n' "$(pwd)"; exit $__rc`,
    'sh',
  ];
}

/** Splits the marker off a line's stdout: the output to show and the new directory. */
export function splitPwd(stdout: string): { output: string; cwd: string | undefined } {
  const i = stdout.lastIndexOf(`\n${PWD_MARKER}`);
  if (i < 0) return { output: stdout, cwd: undefined };
  const cwd = stdout.slice(i + 1 + PWD_MARKER.length).replace(/\n$/, '');
  return { output: stdout.slice(0, i), cwd };
}

/** Reads lines from stdin and runs each in the environment; returns the last exit code. */
export async function runLineShell(
  client: DaemonClient,
  id: string,
  ctx: CliContext,
): Promise<number> {
  let cwd = '~';
  let last = 0;
  const rl = createInterface({
    input: process.stdin,
    output: process.stderr,
    terminal: process.stdin.isTTY,
  });
  const prompt = () => {
    if (process.stdin.isTTY) {
      rl.setPrompt(`${id}:${cwd}$ `);
      rl.prompt();
    }
  };
  prompt();
  for await (const line of rl) {
    const trimmed = line.trim();
    if (trimmed === 'exit' || trimmed === 'logout') break;
    if (trimmed) {
      let stdout = '';
      last = await client.exec(
        id,
        { args: [...lineScript(), cwd === '~' ? '' : cwd, line] },
        { stdout: (s) => (stdout += s), stderr: ctx.err },
      );
      const { output, cwd: next } = splitPwd(stdout);
      ctx.out(output);
      if (next) cwd = next;
    }
    prompt();
  }
  rl.close();
  return last;
}
