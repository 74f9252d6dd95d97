/**
 * `virtos vault …`: create, unlock, inspect, verify and transfer the vault, and work with notes and
 * files. One-shot commands unlock, act and lock; the daemon (later) keeps a vault unlocked.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import {
  exportVault,
  FileDeviceStore,
  importVault,
  Vault,
  VaultErrors,
  type Unlocker,
  type VaultStatus,
} from '@virtos/vault';
import { EXIT, printJson, reportError, type CliContext } from '../io.js';
import { SecretSource } from './vault/secrets.js';

interface CommonOptions {
  json?: boolean;
  vault?: string;
  passphraseFd?: number;
  recoveryKeyFd?: number;
  acceptRollback?: boolean;
}

/** Where VirtOS keeps its state: $VIRTOS_HOME or ~/.virtos. */
function virtosHome(ctx: CliContext): string {
  return ctx.env['VIRTOS_HOME'] ?? join(homedir(), '.virtos');
}

function vaultPath(ctx: CliContext, opts: CommonOptions): string {
  return opts.vault !== undefined
    ? resolve(ctx.cwd, opts.vault)
    : join(virtosHome(ctx), 'vault.virtos');
}

function vaultOptions(ctx: CliContext) {
  return { deviceStore: new FileDeviceStore(join(virtosHome(ctx), 'device')), idleLockMs: 0 };
}

const parseFd = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a file descriptor: ${v}`);
  return n;
};

function common(cmd: Command, unlocks = true): Command {
  cmd
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--vault <path>', 'the vault file (default $VIRTOS_HOME/vault.virtos)');
  if (unlocks) {
    cmd
      .option('--passphrase-fd <n>', 'read the passphrase from this file descriptor', parseFd)
      .option(
        '--recovery-key-fd <n>',
        'unlock with the recovery key read from this file descriptor',
        parseFd,
      )
      .option('--accept-rollback', 'accept a vault older than this device last saw');
  }
  return cmd;
}

function describeStatus(s: VaultStatus): string {
  const lines = [
    `Vault ${s.vaultId} (format ${s.format}) at ${s.path}`,
    `  created ${new Date(s.createdAt).toISOString()}, ${s.counter} commits`,
    `  ${s.isUnlocked ? 'unlocked' : 'locked'}; unlockers: ${s.unlockers
      .map((u) => `${u.kind}${u.isIntact ? '' : ' (DAMAGED)'}`)
      .join(', ')}`,
  ];
  return lines.join('\n') + '\n';
}

/** Registers the `vault` commands. */
export function registerVaultCommands(program: Command, ctx: CliContext): void {
  const secrets = new SecretSource();
  const vault = program
    .command('vault')
    .description('The encrypted vault: one file holding all your data.')
    .addHelpText(
      'after',
      `
Passphrases are read from the terminal without echo, or from --passphrase-fd N (and
--new-passphrase-fd N), or one per line from standard input when it is a pipe; never from argv.

Exit codes: 0 ok; 3 damaged, rolled back or failed verification; 4 bad input or foreign file;
6 wrong passphrase or recovery key; 7 not found; 1 unexpected failure.`,
    );

  /** Opens, unlocks, runs `fn`, and always closes (which locks and wipes keys). */
  /** Opens the vault without unlocking it (status, unlockers, export), closes it, reports errors. */
  async function withOpenVault(
    opts: CommonOptions,
    fn: (v: Vault) => Promise<void> | void,
  ): Promise<void> {
    let v: Vault | undefined;
    try {
      v = Vault.open(vaultPath(ctx, opts), vaultOptions(ctx));
      await fn(v);
    } catch (e) {
      reportError(ctx, e, opts.json === true);
    } finally {
      v?.close();
    }
  }

  async function withVault(
    opts: CommonOptions,
    fn: (v: Vault) => Promise<void> | void,
  ): Promise<void> {
    const json = opts.json === true;
    let v: Vault | undefined;
    try {
      v = Vault.open(vaultPath(ctx, opts), vaultOptions(ctx));
      const unlocker: Unlocker =
        opts.recoveryKeyFd !== undefined
          ? {
              kind: 'recovery',
              recoveryKey: await secrets.read('recovery key', opts.recoveryKeyFd),
            }
          : { kind: 'passphrase', passphrase: await secrets.read('passphrase', opts.passphraseFd) };
      await v.unlock(unlocker, { acceptRollback: opts.acceptRollback === true });
      await fn(v);
    } catch (e) {
      reportError(ctx, e, json);
    } finally {
      v?.close();
    }
  }

  const done = (opts: CommonOptions, value: Record<string, unknown>, text: string) => {
    if (opts.json) printJson(ctx, { ok: true, ...value });
    else ctx.out(text);
    ctx.exitCode = EXIT.ok;
  };

  common(
    vault
      .command('init')
      .description('Create a new vault protected by a passphrase.')
      .option('--new-passphrase-fd <n>', 'read the new passphrase from this fd', parseFd)
      .option('--with-recovery-key', 'also create a recovery key and print it once'),
    false,
  ).action(
    async (opts: CommonOptions & { newPassphraseFd?: number; withRecoveryKey?: boolean }) => {
      try {
        const path = vaultPath(ctx, opts);
        const pass = await secrets.readNew('new passphrase', opts.newPassphraseFd);
        const v = await Vault.create(path, pass, vaultOptions(ctx));
        try {
          const rec = opts.withRecoveryKey ? v.addRecoveryKey() : undefined;
          done(
            opts,
            { status: v.status(), ...(rec && { recoveryKey: rec.recoveryKey }) },
            `Created ${path}\n` +
              (rec
                ? `Recovery key (write it down now; it is shown only once):\n  ${rec.recoveryKey}\n`
                : ''),
          );
        } finally {
          v.close();
        }
      } catch (e) {
        reportError(ctx, e, opts.json === true);
      }
    },
  );

  common(
    vault.command('unlock').description('Check an unlocker and show the vault status.'),
  ).action((opts: CommonOptions) =>
    withVault(opts, (v) => {
      const status = v.status();
      const upgrade = v.needsKdfUpgrade();
      done(
        opts,
        { status, needsKdfUpgrade: upgrade },
        describeStatus(status) +
          'Unlock OK. (Without the daemon nothing stays unlocked; the vault is locked again.)\n' +
          (upgrade ? 'Hint: run `virtos vault passwd` to raise the key-derivation cost.\n' : ''),
      );
    }),
  );

  common(vault.command('lock').description('Lock the vault (wipes keys).'), false).action(
    (opts: CommonOptions) => {
      // One-shot commands lock when they end; only a daemon could hold the vault unlocked.
      done(opts, { locked: true }, 'The vault is locked (no running daemon holds it).\n');
    },
  );

  common(
    vault.command('status').description('Show public facts; needs no passphrase.'),
    false,
  ).action((opts: CommonOptions) =>
    withOpenVault(opts, (v) => {
      const status = v.status();
      done(opts, { status }, describeStatus(status));
    }),
  );

  common(
    vault
      .command('passwd')
      .description('Change a passphrase (and raise its KDF cost to the current default).')
      .option('--new-passphrase-fd <n>', 'read the new passphrase from this fd', parseFd)
      .option('--unlocker <id>', 'which passphrase unlocker to change'),
  ).action((opts: CommonOptions & { newPassphraseFd?: number; unlocker?: string }) =>
    withVault(opts, async (v) => {
      const next = await secrets.readNew('new passphrase', opts.newPassphraseFd);
      const u = v.changePassphrase(next, opts.unlocker);
      done(
        opts,
        { unlocker: u },
        `Passphrase changed (unlocker ${u.id}). No data was re-encrypted.\n`,
      );
    }),
  );

  common(vault.command('add-recovery').description('Add a printable recovery key.')).action(
    (opts: CommonOptions) =>
      withVault(opts, (v) => {
        const { unlocker, recoveryKey } = v.addRecoveryKey();
        done(
          opts,
          { unlocker, recoveryKey },
          `Recovery key (write it down now; it is shown only once):\n  ${recoveryKey}\n`,
        );
      }),
  );

  common(
    vault.command('list-unlockers').description('List unlockers; needs no passphrase.'),
    false,
  ).action((opts: CommonOptions) =>
    withOpenVault(opts, (v) => {
      const list = v.unlockers();
      done(
        opts,
        { unlockers: list },
        list
          .map(
            (u) => `${u.id}  ${u.kind.padEnd(10)} ${u.label}${u.isIntact ? '' : '  (DAMAGED)'}\n`,
          )
          .join(''),
      );
    }),
  );

  common(
    vault
      .command('remove-unlocker')
      .description('Remove an unlocker (not the last one).')
      .argument('<id>', 'unlocker id from list-unlockers'),
  ).action((id: string, opts: CommonOptions) =>
    withVault(opts, (v) => {
      v.removeUnlocker(id);
      done(opts, { removed: id }, `Removed unlocker ${id}. No data was re-encrypted.\n`);
    }),
  );

  common(
    vault.command('verify').description('Check every region and report every problem.'),
  ).action((opts: CommonOptions) =>
    withVault(opts, (v) => {
      const report = v.verify();
      if (opts.json) printJson(ctx, { ok: report.ok, report });
      else {
        ctx.out(
          `Checked ${report.objects} records, ${report.chunks} chunks, ${report.counter + 1} chain entries.\n`,
        );
        for (const p of report.problems)
          ctx.out(`  PROBLEM [${p.region}] ${p.subject}: ${p.message}\n`);
        ctx.out(report.ok ? 'Vault OK.\n' : `${report.problems.length} problem(s) found.\n`);
      }
      ctx.exitCode = report.ok ? EXIT.ok : EXIT.notOk;
    }),
  );

  common(
    vault
      .command('export')
      .description('Write a transfer copy plus manifest and print its fingerprint.')
      .argument('<path>', 'where to write the copy'),
    false,
  ).action((dest: string, opts: CommonOptions) =>
    withOpenVault(opts, async (v) => {
      const r = await exportVault(v, resolve(ctx.cwd, dest));
      done(
        opts,
        { ...r },
        `Wrote ${r.path}\n  and ${r.manifestPath}\nFingerprint: ${r.fingerprint}\n` +
          'Compare it with the one `virtos vault import` prints on the other machine.\n',
      );
    }),
  );

  common(
    vault
      .command('import')
      .description('Verify a transfer copy against its manifest and install it.')
      .argument('<path>', 'the transfer copy (its .manifest.json must sit next to it)')
      .option('--replace', 'replace an existing vault'),
    false,
  ).action(async (src: string, opts: CommonOptions & { replace?: boolean }) => {
    try {
      const r = await importVault(resolve(ctx.cwd, src), vaultPath(ctx, opts), {
        replace: opts.replace === true,
      });
      done(
        opts,
        { ...r },
        `Manifest verified; installed ${r.path}\nFingerprint: ${r.fingerprint}\n` +
          'It must equal the fingerprint printed by the export.\n',
      );
    } catch (e) {
      reportError(ctx, e, opts.json === true);
    }
  });

  registerNoteCommands(vault, ctx, withVault, done);
  registerFileCommands(vault, ctx, withVault, done);
}

type WithVault = (opts: CommonOptions, fn: (v: Vault) => Promise<void> | void) => Promise<void>;
type Done = (opts: CommonOptions, value: Record<string, unknown>, text: string) => void;

function registerNoteCommands(vault: Command, ctx: CliContext, withVault: WithVault, done: Done) {
  const note = vault.command('note').description('Notes (markdown with title and tags).');
  common(
    note
      .command('add')
      .description('Add a note.')
      .requiredOption('--title <title>', 'the title')
      .option('--body <text>', 'the markdown body')
      .option('--body-file <file>', 'read the body from this file')
      .option('--tag <tag...>', 'tags'),
  ).action(
    (opts: CommonOptions & { title: string; body?: string; bodyFile?: string; tag?: string[] }) =>
      withVault(opts, async (v) => {
        const body =
          opts.bodyFile !== undefined
            ? await ctx.readFile(resolve(ctx.cwd, opts.bodyFile))
            : (opts.body ?? '');
        const n = await v.notes.create({ title: opts.title, body, tags: opts.tag ?? [] });
        done(opts, { note: n }, `${n.id}\n`);
      }),
  );
  common(note.command('list').description('List notes, newest first.')).action(
    (opts: CommonOptions) =>
      withVault(opts, (v) => {
        const notes = v.notes.list();
        done(
          opts,
          { notes: notes.map(({ body: _b, ...n }) => n), problems: v.problems() },
          notes
            .map(
              (n) =>
                `${n.id}  ${new Date(n.updatedAt).toISOString().slice(0, 16)}  ${n.title}${n.tags.length ? `  [${n.tags.join(', ')}]` : ''}\n`,
            )
            .join('') +
            v
              .problems()
              .map((p) => `warning: ${p.message} (${p.subject})\n`)
              .join(''),
        );
      }),
  );
  common(note.command('show').description('Show a note.').argument('<id>')).action(
    (id: string, opts: CommonOptions) =>
      withVault(opts, (v) => {
        const n = v.notes.get(id);
        if (!n) throw VaultErrors.create('no_such_item', `No note ${id}.`, { subject: id });
        done(
          opts,
          { note: n },
          `# ${n.title}\n${n.tags.length ? `tags: ${n.tags.join(', ')}\n` : ''}revision ${n.revision}, updated ${new Date(n.updatedAt).toISOString()}\n\n${n.body}\n`,
        );
      }),
  );
  common(
    note
      .command('search')
      .description('Full-text search over notes and file names.')
      .argument('<query...>'),
  ).action((words: string[], opts: CommonOptions) =>
    withVault(opts, (v) => {
      const hits = v.find(words.join(' '));
      done(
        opts,
        { hits },
        hits.map((h) => `${h.id}  ${h.kind}  ${h.title}\n    ${h.snippet}\n`).join('') ||
          'No matches.\n',
      );
    }),
  );
}

function registerFileCommands(vault: Command, ctx: CliContext, withVault: WithVault, done: Done) {
  const file = vault.command('file').description('Files, stored encrypted in 1 MiB chunks.');
  common(
    file
      .command('put')
      .description('Store a file (streamed).')
      .argument('<path>')
      .option('--name <name>', 'name in the vault (default: the file name)')
      .option('--mime <type>', 'media type'),
  ).action((p: string, opts: CommonOptions & { name?: string; mime?: string }) =>
    withVault(opts, async (v) => {
      const src = createReadStream(resolve(ctx.cwd, p), { highWaterMark: 1024 * 1024 });
      const f = await v.files.put(opts.name ?? basename(p), src, {
        ...(opts.mime !== undefined && { mime: opts.mime }),
      });
      done(opts, { file: f }, `${f.id}  ${f.size} bytes  ${f.name}\n`);
    }),
  );
  common(file.command('ls').description('List files.')).action((opts: CommonOptions) =>
    withVault(opts, (v) => {
      const files = v.files.list();
      done(
        opts,
        { files },
        files.map((f) => `${f.id}  ${String(f.size).padStart(12)}  ${f.name}\n`).join(''),
      );
    }),
  );
  common(
    file
      .command('get')
      .description('Write a file out (to --out, or stdout).')
      .argument('<id-or-name>')
      .option('-o, --out <path>', 'where to write it'),
  ).action((ref: string, opts: CommonOptions & { out?: string }) =>
    withVault(opts, async (v) => {
      const f = v.files.stat(ref) ?? v.files.byName(ref)[0];
      if (!f) throw VaultErrors.create('no_such_item', `No file ${ref}.`, { subject: ref });
      const dest =
        opts.out !== undefined ? createWriteStream(resolve(ctx.cwd, opts.out)) : process.stdout;
      await pipeline(Readable.from(v.files.read(f.id)), dest, { end: opts.out !== undefined });
      if (opts.out !== undefined) done(opts, { file: f, out: opts.out }, `Wrote ${opts.out}\n`);
    }),
  );
}
