/**
 * Builds the `virtos` command tree. Each area registers its commands from its own module.
 */
import { Command, CommanderError } from 'commander';
import { registerComposeCommands } from './commands/compose.js';
import { registerDaemonCommands } from './commands/daemon.js';
import { registerDoctorCommands } from './commands/doctor.js';
import { registerEnvCommands } from './commands/env.js';
import { registerImageCommands } from './commands/image.js';
import { registerSpecCommands } from './commands/spec.js';
import { registerVaultCommands } from './commands/vault.js';
import { EXIT, type CliContext } from './io.js';

/** The version printed by `virtos --version`. */
export const CLI_VERSION = '0.1.0';

/** Makes the command tree bound to `ctx`. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('virtos')
    .description(
      'VirtOS: a private, local-first computer in the browser, and GenOS, its environment engine.',
    )
    .version(CLI_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: ctx.out, writeErr: ctx.err })
    .exitOverride();
  // `virtos` alone starts the daemon (commands/daemon.ts); `virtos --help` still shows the help.
  registerDaemonCommands(program, ctx);
  registerEnvCommands(program, ctx);
  registerComposeCommands(program, ctx);
  registerSpecCommands(program, ctx);
  registerVaultCommands(program, ctx);
  registerImageCommands(program, ctx);
  registerDoctorCommands(program, ctx);
  return program;
}

/** Runs `virtos` with `args` (without node and script), returning the exit code. */
export async function runCli(args: readonly string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end with exit code 0; everything else is a usage error.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw e;
  }
  return ctx.exitCode;
}
