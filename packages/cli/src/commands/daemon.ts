/**
 * `virtos` with no arguments starts the daemon; `virtos init`, `virtos unlock` and `virtos lock`
 * open and close a session with it (the token goes to `$VIRTOS_HOME/session.json`, mode 0600).
 */
import type { Command } from 'commander';
import {
  DaemonClient,
  HttpTransport,
  ServerErrors,
  homeFiles,
  readJsonFile,
  removeFile,
  runDaemon,
  writePrivateJson,
  type DaemonFile,
  type SessionFile,
} from '@virtos/server';
import { EXIT, printJson, reportError, type CliContext } from '../io.js';
import { findDaemon, virtosHome } from './env/connection.js';
import { SecretSource } from './vault/secrets.js';

interface StartOptions {
  port?: number;
  host?: string;
  open?: boolean;
  registry?: string;
  onExit?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsSelfSigned?: boolean;
}

const parsePort = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: ${v}`);
  return n;
};
const parseFd = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a file descriptor: ${v}`);
  return n;
};

/** Registers the root action (start the daemon) and init/unlock/lock. */
export function registerDaemonCommands(program: Command, ctx: CliContext): void {
  program
    .option('--port <n>', 'daemon port (default 7460)', parsePort)
    .option(
      '--host <address>',
      'listen address (default 127.0.0.1; a non-loopback address needs TLS: --tls-cert/--tls-key ' +
        'or --tls-self-signed)',
    )
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate; also $VIRTOS_TLS_CERT')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert; also $VIRTOS_TLS_KEY')
    .option(
      '--tls-self-signed',
      'serve HTTPS with a self-signed certificate for the listen address, made once under ' +
        '$VIRTOS_HOME/tls/ (check the printed SHA-256 fingerprint in the browser)',
    )
    .option('--no-open', 'only print the URL, do not open a browser')
    .option(
      '--registry <where>',
      'where environment records live: vault (default, encrypted), host (plain SQLite file ' +
        '$VIRTOS_HOME/registry.sqlite, for shared hosts) or sqlite:/path; also $VIRTOS_REGISTRY',
    )
    .option(
      '--on-exit <policy>',
      'what stopping the daemon does with running environments: keep (default; the next start ' +
        'adopts them), suspend or terminate; also $VIRTOS_ON_EXIT',
    )
    .addHelpText(
      'after',
      `
Without a command, virtos starts the daemon on http://127.0.0.1:7460/ and prints its URL (it opens
a browser only when DISPLAY is set and --no-open is absent). Stop it with Ctrl-C. Its data
directory is $VIRTOS_HOME (default ~/.virtos). With --tls-cert/--tls-key or --tls-self-signed it
serves https:// and prints the certificate's SHA-256 fingerprint; --host with an address beyond
this machine is refused without TLS. Then, in another terminal:
  virtos init            create the vault (first run) and open a session
  virtos unlock          open a session (the token goes to $VIRTOS_HOME/session.json, mode 0600)
  virtos env create "a debian shell with git"
  virtos lock            lock the vault and end every session

Environments outlive the daemon: stopping it (Ctrl-C, SIGTERM) or a crash leaves them running,
and the next start adopts them once the vault is unlocked (while it is locked they keep running
unmanaged). --on-exit suspend|terminate freezes or ends them at a graceful stop instead. With no
daemon running, virtos env ls|show|events|modify|rm run embedded (in this process, for one
command, asking for the passphrase); env create|suspend|resume|exec|shell need the daemon.`,
    )
    .action(async (opts: StartOptions) => {
      try {
        const hostExplicit = opts.host !== undefined;
        const tls = {
          ...(opts.tlsCert !== undefined && { certPath: opts.tlsCert }),
          ...(opts.tlsKey !== undefined && { keyPath: opts.tlsKey }),
          ...(opts.tlsSelfSigned === true && { selfSigned: true }),
        };
        const running = await runDaemon({
          home: virtosHome(ctx),
          ...(opts.host !== undefined && { host: opts.host }),
          ...(opts.port !== undefined && { port: opts.port }),
          ...(opts.registry !== undefined && { registry: opts.registry }),
          ...(opts.onExit !== undefined && { onExit: opts.onExit }),
          hostExplicit,
          tls,
          open: opts.open !== false,
          say: ctx.out,
          env: ctx.env,
        });
        await running.stopped;
        ctx.exitCode = EXIT.ok;
        // Once the daemon has stopped (records persisted, vault closed) nothing else needs the
        // process: environments run under their own detached shims, and no leftover handle (an
        // idle socket, a timer of a library) may keep it alive. The next start adopts them.
        process.exit(EXIT.ok);
      } catch (e) {
        reportError(ctx, e, false);
      }
    });

  const secrets = new SecretSource();
  const withDaemon = async (): Promise<{ url: string; client: DaemonClient }> => {
    const found = await findDaemon(virtosHome(ctx));
    if (!found) {
      throw ServerErrors.create('daemon_unreachable', 'No VirtOS daemon is running.', {
        hint: 'Start it with `virtos` (no arguments) in another terminal.',
      });
    }
    return {
      url: found.url,
      client: new DaemonClient(new HttpTransport(found.url, undefined, found.tls)),
    };
  };
  const saveSession = (url: string, token: string) =>
    writePrivateJson(homeFiles(virtosHome(ctx)).session, { url, token } satisfies SessionFile);

  program
    .command('init')
    .description('Create the vault through the running daemon and open a session.')
    .option('--json', 'print { ok, recoveryKey } on stdout')
    .option('--new-passphrase-fd <n>', 'read the new passphrase from this fd', parseFd)
    .action(async (opts: { json?: boolean; newPassphraseFd?: number }) => {
      try {
        const { url, client } = await withDaemon();
        const pass = await secrets.readNew('new passphrase', opts.newPassphraseFd);
        const r = await client.initVault(pass);
        await saveSession(url, r.token);
        if (opts.json) printJson(ctx, { ok: true, recoveryKey: r.recoveryKey });
        else
          ctx.out(
            `Vault created and unlocked.\nRecovery key (write it down now; it is shown only once):\n  ${r.recoveryKey}\n`,
          );
        ctx.exitCode = EXIT.ok;
      } catch (e) {
        reportError(ctx, e, opts.json === true);
      }
    });

  program
    .command('unlock')
    .description('Unlock the vault in the running daemon and open a session for this user.')
    .option('--json', 'print { ok } on stdout')
    .option('--passphrase-fd <n>', 'read the passphrase from this fd', parseFd)
    .option('--recovery-key-fd <n>', 'unlock with the recovery key from this fd', parseFd)
    .action(async (opts: { json?: boolean; passphraseFd?: number; recoveryKeyFd?: number }) => {
      try {
        const { url, client } = await withDaemon();
        const r =
          opts.recoveryKeyFd !== undefined
            ? await client.unlock({
                recoveryKey: await secrets.read('recovery key', opts.recoveryKeyFd),
              })
            : await client.unlock({
                passphrase: await secrets.read('passphrase', opts.passphraseFd),
              });
        await saveSession(url, r.token);
        if (opts.json) printJson(ctx, { ok: true });
        else ctx.out('Unlocked.\n');
        ctx.exitCode = EXIT.ok;
      } catch (e) {
        reportError(ctx, e, opts.json === true);
      }
    });

  program
    .command('lock')
    .description('Lock the vault in the daemon (every session ends) and forget the session file.')
    .option('--json', 'print { ok } on stdout')
    .action(async (opts: { json?: boolean }) => {
      const path = homeFiles(virtosHome(ctx)).session;
      try {
        const session = await readJsonFile<SessionFile>(path);
        if (session?.token) {
          // An https daemon is trusted only through the certificate it recorded.
          const daemon = await readJsonFile<DaemonFile>(homeFiles(virtosHome(ctx)).daemon);
          const pin = daemon?.url === session.url ? daemon.tls : undefined;
          await new DaemonClient(new HttpTransport(session.url, session.token, pin))
            .lock()
            .catch((e) => {
              // A dead token or a stopped daemon: the session is over either way.
              if (
                !ServerErrors.is(e, 'unauthenticated') &&
                !ServerErrors.is(e, 'daemon_unreachable')
              )
                throw e;
            });
        }
        await removeFile(path);
        if (opts.json) printJson(ctx, { ok: true });
        else ctx.out('Locked.\n');
        ctx.exitCode = EXIT.ok;
      } catch (e) {
        reportError(ctx, e, opts.json === true);
      }
    });
}
