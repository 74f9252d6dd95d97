import { resolve } from 'node:path';
import { defineErrors } from '@virtos/core';
import type { CliContext } from '../io.js';

/** Errors of the CLI itself. */
export const CliErrors = defineErrors('cli', {
  unreadable: 'invalid_argument',
  usage: 'invalid_argument',
});

/** Largest input file the CLI reads, in bytes. */
const MAX_INPUT_BYTES = 1024 * 1024;

/** Reads a file (or standard input for `-`) as text, with a coded error when it cannot. */
export async function readInput(ctx: CliContext, file: string): Promise<string> {
  const path = resolve(ctx.cwd, file);
  let text: string;
  try {
    if (file === '-' && !ctx.readStdin) throw new Error('standard input is not available here');
    text =
      file === '-' && ctx.readStdin
        ? await ctx.readStdin(MAX_INPUT_BYTES)
        : await ctx.readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw CliErrors.create('unreadable', `Cannot read ${file}: ${code ?? (e as Error).message}.`, {
      subject: file,
      hint: code === 'ENOENT' ? 'Check the path.' : 'Check that the file is readable.',
      cause: e,
    });
  }
  if (text.length > MAX_INPUT_BYTES) {
    throw CliErrors.create('unreadable', `${file} is larger than ${MAX_INPUT_BYTES} bytes.`, {
      subject: file,
    });
  }
  return text;
}
