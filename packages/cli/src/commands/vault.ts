import type { Command } from 'commander';
import type { CliContext } from '../io.js';

/** Registers the `vault` commands (filled in by the vault work). */
export function registerVaultCommands(_program: Command, _ctx: CliContext): void {}
