/**
 * `virtos compose "<request>"` and `virtos compose --edit spec.json "<change>"`.
 */
import { availableParallelism, totalmem } from 'node:os';
import type { Command } from 'commander';
import { Composer } from '@virtos/composer';
import { parseSpecJson } from '@virtos/spec';
import { EXIT, printJson, reportError, type CliContext } from '../io.js';
import { formatFindings, formatSpec } from './format.js';
import { CliErrors, readInput } from './input.js';

interface ComposeOptions {
  json?: boolean;
  edit?: string;
}

/** Registers `compose`. */
export function registerComposeCommands(program: Command, ctx: CliContext): void {
  program
    .command('compose')
    .description('Turn a plain-language request into an environment spec, with findings.')
    .argument('<request...>', 'what you want, e.g. "a debian desktop with firefox, offline"')
    .option('--json', 'print exactly one JSON object { ok, spec, findings } on stdout')
    .option('--edit <file>', 'apply the request as a change to this spec file (JSON)')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok; 3 a blocking finding (ambiguity, conflict, unsupported); 4 unreadable or invalid
input; 1 unexpected failure.

Examples:
  virtos compose "a debian desktop with firefox that can only reach wikipedia.org"
  virtos compose --json "untrusted pdf viewer, no network" > spec.json
  virtos compose --edit spec.json "add gimp and give it 4 more GB"`,
    )
    .action(async (words: string[], opts: ComposeOptions) => {
      const json = opts.json === true;
      try {
        const request = words.join(' ');
        let base;
        if (opts.edit !== undefined) {
          const parsed = parseSpecJson(await readInput(ctx, opts.edit));
          if (!parsed.ok) return reportError(ctx, parsed.error, json);
          base = parsed.value;
        }
        if (request.trim() === '' && base === undefined) {
          throw CliErrors.create('usage', 'The request is empty.', {
            hint: 'Say what you want, e.g. virtos compose "a debian desktop with firefox".',
          });
        }
        // This machine's size, so that asking for more than it has is reported (as unavailable:
        // another host may have it). GPUs are not detected yet: none.
        const host = {
          cpus: availableParallelism(),
          memoryMiB: Math.floor(totalmem() / 1024 / 1024),
          diskMiB: Number.MAX_SAFE_INTEGER,
          gpus: 0,
        };
        const result = new Composer({ host }).compose(request, base ? { base } : {});
        if (json) {
          printJson(ctx, { ok: result.ok, spec: result.spec, findings: result.findings });
        } else {
          const verb = result.intent === 'modify' ? 'Modified spec' : 'Spec';
          if (result.spec)
            ctx.out(`${verb}${result.ok ? '' : ' (not ready)'}:\n${formatSpec(result.spec)}`);
          else ctx.out('No spec could be made from this request.\n');
          if (result.findings.length) ctx.out(`Findings:\n${formatFindings(result.findings)}`);
          if (!result.ok)
            ctx.out('Answer the questions or change the request, then compose again.\n');
        }
        ctx.exitCode = result.ok ? EXIT.ok : EXIT.notOk;
      } catch (e) {
        reportError(ctx, e, json);
      }
    });
}
