/**
 * `virtos env …`: create, list, show, suspend, resume, modify, remove, follow and enter
 * environments. Every command talks to the running daemon with the session token, or runs embedded
 * when no daemon runs (env/connection.ts).
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { parseSpecJson, type EnvironmentSpec } from '@virtos/spec';
import type { EnvironmentRecord, LifecycleState } from '@virtos/orchestrator';
import { HttpTransport } from '@virtos/server';
import { EXIT, printJson, reportError, type CliContext } from '../io.js';
import { formatFindings, formatSpec } from './format.js';
import { CliErrors, readInput } from './input.js';
import { connect, type Connection } from './env/connection.js';
import { formatEvent, formatRecord, formatRecordTable } from './env/format.js';
import { runLineShell } from './env/shell.js';
import { runTerminal } from './env/terminal.js';

interface Common {
  json?: boolean;
  passphraseFd?: number;
}

const parseFd = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a file descriptor: ${v}`);
  return n;
};

const SETTLED: ReadonlySet<LifecycleState> = new Set(['running', 'failed', 'terminated']);

/**
 * Why some commands cannot run embedded: the runtime keeps each environment's processes as
 * children of the process that started them, so an environment made by a one-shot command would
 * end (or be orphaned) with it, and none is running while no daemon runs.
 */
const NEEDS_DAEMON_CREATE = 'an environment lives as long as the daemon process that started it.';
const NEEDS_DAEMON_RUNNING =
  'environments run only while the daemon runs (they end with it; records say so on the next start).';

function common(cmd: Command): Command {
  return cmd
    .option('--json', 'print exactly one JSON document on stdout')
    .option(
      '--passphrase-fd <n>',
      'embedded mode (no daemon running): read the passphrase from this fd',
      parseFd,
    );
}

/** Registers `env` and its commands. */
export function registerEnvCommands(program: Command, ctx: CliContext): void {
  const env = program
    .command('env')
    .description('Environments: create from plain language, list, suspend, resume, enter, remove.')
    .addHelpText(
      'after',
      `
Commands talk to the running daemon (start it with \`virtos\`, then \`virtos unlock\`). When no
daemon is running, ls, show, events, modify and rm run embedded for one command: they ask for the
vault passphrase (or read it from --passphrase-fd N), act, and exit. create, suspend, resume, exec
and shell need the daemon: an environment lives as long as the daemon process that started it.
ID is an environment id (env_…) or the name of an active environment.

Exit codes: 0 ok; 3 blocking findings or an operation not allowed in the current state;
5 the runtime or the daemon is unavailable; 6 refused (locked, wrong passphrase, no session);
7 no such environment; env exec passes the command's own exit code through.`,
    );

  /** Runs `fn` with a connection, reporting errors and always closing. */
  async function withClient(
    opts: Common,
    fn: (c: Connection) => Promise<void>,
    needsDaemon?: string,
  ): Promise<void> {
    let c: Connection | undefined;
    try {
      c = await connect(ctx, {
        ...(opts.passphraseFd !== undefined && { passphraseFd: opts.passphraseFd }),
        ...(needsDaemon !== undefined && { requireDaemon: needsDaemon }),
      });
      await fn(c);
    } catch (e) {
      reportError(ctx, e, opts.json === true);
    } finally {
      await c?.close();
    }
  }

  /** An id, or the name of an active environment. */
  async function resolveId(c: Connection, idOrName: string): Promise<string> {
    if (idOrName.startsWith('env_')) return idOrName;
    const all = await c.client.list();
    const found = all.filter((r) => r.name === idOrName && r.state !== 'terminated');
    if (found.length === 1) return found[0]!.id;
    return idOrName; // the daemon answers not_found with its own message
  }

  common(
    env
      .command('create')
      .description('Compose an environment from a request, show it, and create it once you agree.')
      .argument('<request...>', 'what you want, e.g. "a debian desktop with firefox, offline"')
      .option('-y, --yes', 'do not ask before provisioning')
      .option(
        '--no-wait',
        'return once it is queued; follow it with `virtos env events ID --follow`',
      ),
  ).action(async (words: string[], opts: Common & { yes?: boolean; wait?: boolean }) => {
    const json = opts.json === true;
    await withClient(
      opts,
      async (c) => {
        const request = words.join(' ').trim();
        if (!request) {
          throw CliErrors.create('usage', 'The request is empty.', {
            hint: 'Say what you want, e.g. virtos env create "a debian shell with git".',
          });
        }
        const composed = await c.client.compose(request);
        if (!json || !opts.yes) {
          const say = json ? ctx.err : ctx.out;
          if (composed.spec)
            say(`Spec${composed.ok ? '' : ' (not ready)'}:\n${formatSpec(composed.spec)}`);
          if (composed.findings.length) say(`Findings:\n${formatFindings(composed.findings)}`);
        }
        if (!composed.ok) {
          if (json) printJson(ctx, { ok: false, spec: composed.spec, findings: composed.findings });
          else ctx.out('Answer the questions or change the request, then try again.\n');
          ctx.exitCode = EXIT.notOk;
          return;
        }
        if (!opts.yes && !(await confirm(ctx, 'Create this environment?'))) {
          ctx.err('Not created.\n');
          ctx.exitCode = EXIT.cancelled;
          return;
        }
        const wait = opts.wait !== false;
        // Create without waiting, then follow the events for progress (a stream over HTTP; polling
        // embedded, where the orchestrator runs in this process until the command ends).
        const out = await c.client.create({ request });
        if (!out.ok) {
          if (json) printJson(ctx, { ok: false, spec: out.spec, findings: out.findings });
          else ctx.out(`Findings:\n${formatFindings(out.findings)}`);
          ctx.exitCode = EXIT.notOk;
          return;
        }
        let record: EnvironmentRecord = out.record;
        if (!json) ctx.err(`Requested ${record.id} (${record.name}).\n`);
        if (wait) {
          await c.client.follow(
            record.id,
            (e) => {
              if (!json) ctx.err(formatEvent(e));
            },
            { until: (e) => e.to !== undefined && SETTLED.has(e.to) },
          );
          record = await c.client.get(record.id);
        }
        if (json) printJson(ctx, record);
        else ctx.out(formatRecord(record));
        ctx.exitCode = record.state === 'failed' ? EXIT.unavailable : EXIT.ok;
      },
      NEEDS_DAEMON_CREATE,
    );
  });

  common(
    env
      .command('ls')
      .description('List environments.')
      .option(
        '--state <state>',
        'only this state (requested, provisioning, running, suspended, terminated, failed)',
      )
      .option('-a, --all', 'include terminated environments'),
  ).action(async (opts: Common & { state?: LifecycleState; all?: boolean }) => {
    await withClient(opts, async (c) => {
      let list = await c.client.list(opts.state);
      if (!opts.all && !opts.state) list = list.filter((r) => r.state !== 'terminated');
      if (opts.json) printJson(ctx, { ok: true, environments: list });
      else ctx.out(formatRecordTable(list));
      ctx.exitCode = EXIT.ok;
    });
  });

  common(env.command('show').description('Show one environment.').argument('<id>')).action(
    async (id: string, opts: Common) => {
      await withClient(opts, async (c) => {
        const r = await c.client.get(await resolveId(c, id));
        if (opts.json) printJson(ctx, r);
        else {
          ctx.out(formatRecord(r));
          ctx.out(`spec:\n${formatSpec(r.spec).replace(/^/gm, '  ')}`);
          if (r.findings.length) ctx.out(`findings:\n${formatFindings(r.findings)}`);
        }
        ctx.exitCode = EXIT.ok;
      });
    },
  );

  for (const [name, verb, what] of [
    ['suspend', 'suspend', 'Freeze every process of a running environment.'],
    ['resume', 'resume', 'Thaw a suspended environment.'],
    ['rm', 'terminate', 'Terminate an environment and remove everything it had on this host.'],
  ] as const) {
    common(env.command(name).description(what).argument('<id>')).action(
      async (id: string, opts: Common) => {
        await withClient(
          opts,
          async (c) => {
            const rid = await resolveId(c, id);
            const r =
              verb === 'suspend'
                ? await c.client.suspend(rid)
                : verb === 'resume'
                  ? await c.client.resume(rid)
                  : await c.client.terminate(rid);
            if (opts.json) printJson(ctx, r);
            else ctx.out(`${r.id} (${r.name}): ${r.state}\n`);
            ctx.exitCode = EXIT.ok;
          },
          verb === 'terminate' ? undefined : NEEDS_DAEMON_RUNNING,
        );
      },
    );
  }

  common(
    env
      .command('modify')
      .description(
        'Change an environment by a request ("add gimp, 4 more GB") or a whole spec file.',
      )
      .argument('<id>')
      .argument('[request...]')
      .option('--spec <file>', 'replace the desired spec by this JSON file (- for stdin)'),
  ).action(async (id: string, words: string[], opts: Common & { spec?: string }) => {
    await withClient(opts, async (c) => {
      let change: { request: string } | { spec: EnvironmentSpec };
      if (opts.spec !== undefined) {
        const parsed = parseSpecJson(await readInput(ctx, opts.spec));
        if (!parsed.ok) throw parsed.error;
        change = { spec: parsed.value };
      } else {
        const request = words.join(' ').trim();
        if (!request) throw CliErrors.create('usage', 'Say what to change, or pass --spec FILE.');
        change = { request };
      }
      const r = await c.client.modify(await resolveId(c, id), change);
      if (opts.json) printJson(ctx, r);
      else {
        ctx.out(
          `${r.record.id}: ${r.applied === 'live' ? 'changed, in effect now' : r.applied === 'restart-needed' ? 'saved; takes effect after a restart' : 'nothing changed'}\n`,
        );
        if (r.findings.length) ctx.out(`Findings:\n${formatFindings(r.findings)}`);
      }
      ctx.exitCode = r.findings.some((f) => f.blocking) ? EXIT.notOk : EXIT.ok;
    });
  });

  common(
    env
      .command('events')
      .description("An environment's history; --follow keeps printing new events.")
      .argument('<id>')
      .option('-f, --follow', 'keep following (needs the daemon; Ctrl-C to stop)')
      .option('--since <seq>', 'only events after this sequence number', (v) => Number(v)),
  ).action(async (id: string, opts: Common & { follow?: boolean; since?: number }) => {
    await withClient(opts, async (c) => {
      const rid = await resolveId(c, id);
      if (opts.follow && !c.embedded) {
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        try {
          await c.client.follow(
            rid,
            (e) => ctx.out(opts.json ? JSON.stringify(e) + '\n' : formatEvent(e)),
            { since: opts.since ?? 0, signal: ac.signal },
          );
        } finally {
          process.off('SIGINT', stop);
        }
      } else {
        const events = await c.client.events(rid, opts.since ?? 0);
        if (opts.json) printJson(ctx, { ok: true, events });
        else for (const e of events) ctx.out(formatEvent(e));
      }
      ctx.exitCode = EXIT.ok;
    });
  });

  common(
    env
      .command('exec')
      .description(
        'Run a command inside a running environment, as its user, under its sandbox policy.',
      )
      .argument('<id>')
      .argument('<command...>', 'the command and its arguments, after --')
      .addHelpText(
        'after',
        `
Example: virtos env exec my-shell -- git --version
Standard output and error are passed through as the command writes them (each capped at 1 MiB);
the exit code is the command's. No terminal: use \`virtos env shell\` for interactive programs.`,
      ),
  ).action(async (id: string, command: string[], opts: Common) => {
    await withClient(
      opts,
      async (c) => {
        const code = await c.client.exec(
          await resolveId(c, id),
          { args: command },
          {
            stdout: ctx.out,
            stderr: ctx.err,
          },
        );
        ctx.exitCode = code;
      },
      NEEDS_DAEMON_RUNNING,
    );
  });

  common(
    env
      .command('shell')
      .description('An interactive login shell inside a running environment (see help).')
      .argument('<id>')
      .addHelpText(
        'after',
        `
On a terminal: a login shell (bash when the image has it) on a real pseudo-terminal inside the
environment, as its user, under its sandbox policy, through the daemon's stream gateway. Your
terminal is in raw mode while it runs (Ctrl-C goes to the shell); its size follows yours. "exit"
ends it, and virtos exits with the shell's exit code (5 if the stream ended otherwise, e.g. the
environment was suspended).

Without a terminal (stdin or stdout redirected): a line shell for scripts. Each input line runs
with /bin/sh -c in the environment, the working directory carries over between lines (cd works),
and the exit code is the last line's. Example: printf 'cd /tmp\\npwd\\n' | virtos env shell ID`,
      ),
  ).action(async (id: string, opts: Common) => {
    await withClient(
      opts,
      async (c) => {
        const rid = await resolveId(c, id);
        const transport = c.client.transport;
        if (process.stdin.isTTY && process.stdout.isTTY && transport instanceof HttpTransport) {
          ctx.exitCode = await runTerminal(c.client, transport.baseUrl, rid);
        } else {
          ctx.exitCode = await runLineShell(c.client, rid, ctx);
        }
      },
      NEEDS_DAEMON_RUNNING,
    );
  });
}

/** Asks a yes/no question on the terminal; refuses (false) when stdin is not a terminal. */
async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw CliErrors.create(
      'usage',
      'Standard input is not a terminal, so there is nobody to ask.',
      {
        hint: 'Pass --yes to create without asking.',
      },
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const a = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(a.trim());
  } finally {
    rl.close();
  }
  void ctx;
}
