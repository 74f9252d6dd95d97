import type { Command } from 'commander';
import type { CliContext } from '../io.js';

/** Registers the `image` commands (filled in by the image work). */
export function registerImageCommands(_program: Command, _ctx: CliContext): void {}
