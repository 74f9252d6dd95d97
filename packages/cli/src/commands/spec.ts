/**
 * `virtos spec validate FILE` and `virtos spec schema`.
 */
import type { Command } from 'commander';
import { CatalogIndex, checkSpec, hasBlocking, parseSpecJson, specJsonSchema } from '@virtos/spec';
import { EXIT, printJson, reportError, type CliContext } from '../io.js';
import { readInput } from './input.js';
import { formatFindings } from './format.js';

/** Registers the `spec` commands. */
export function registerSpecCommands(program: Command, ctx: CliContext): void {
  const spec = program.command('spec').description('Work with environment spec files.');

  spec
    .command('validate')
    .description('Check a spec file (JSON) against the schema and the catalog.')
    .argument('<file>', "the spec file, or '-' for standard input")
    .option('--json', 'print one JSON object { ok, spec, findings, error? }')
    .action(async (file: string, opts: { json?: boolean }) => {
      const json = opts.json === true;
      try {
        const parsed = parseSpecJson(await readInput(ctx, file));
        if (!parsed.ok) return reportError(ctx, parsed.error, json);
        const findings = checkSpec(parsed.value, new CatalogIndex());
        const ok = !hasBlocking(findings);
        if (json) printJson(ctx, { ok, spec: parsed.value, findings });
        else {
          ctx.out(ok ? `${file}: valid\n` : `${file}: not OK as it is\n`);
          if (findings.length) ctx.out(formatFindings(findings));
        }
        ctx.exitCode = ok ? EXIT.ok : EXIT.notOk;
      } catch (e) {
        reportError(ctx, e, json);
      }
    });

  spec
    .command('schema')
    .description('Print the JSON Schema of the environment spec.')
    .action(() => printJson(ctx, specJsonSchema()));
}
