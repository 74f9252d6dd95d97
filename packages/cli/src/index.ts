/**
 * @module @virtos/cli
 * The `virtos` command. Its entry point is src/main.ts (bin/virtos.js); this module exports the
 * in-process runner for tests and embedding.
 */
export { CLI_VERSION, buildProgram, runCli } from './program.js';
export { EXIT, exitCodeFor } from './io.js';
export type { CliContext } from './io.js';
