import type { Command } from 'commander';
import type { CliContext } from '../io.js';

/** Registers the `doctor` commands (filled in by the doctor work). */
export function registerDoctorCommands(_program: Command, _ctx: CliContext): void {}
