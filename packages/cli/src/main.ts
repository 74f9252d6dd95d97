/**
 * Entry point of the `virtos` command.
 */
import { readFile } from 'node:fs/promises';
import { reportError, type CliContext } from './io.js';
import { runCli } from './program.js';

const ctx: CliContext = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  readFile: (p) => readFile(p, 'utf8'),
  readStdin: async (maxBytes) => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw new Error(`standard input is larger than ${maxBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  },
  exitCode: 0,
};

try {
  process.exitCode = await runCli(process.argv.slice(2), ctx);
} catch (e) {
  reportError(ctx, e, process.argv.includes('--json'));
  process.exitCode = ctx.exitCode;
}
