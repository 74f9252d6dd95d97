/**
 * `virtos env shell` on a terminal: an interactive login shell in the environment over the daemon's
 * `/streams/<id>` WebSocket (the same path, token and Origin rules as the browser's terminal). The
 * local terminal is put in raw mode, keystrokes go out as binary frames, the window size as the
 * gateway's resize text frame (again on every SIGWINCH), and the shell's exit code becomes ours.
 */
import WebSocket from 'ws';
import {
  HttpTransport,
  ServerErrors,
  certificateFailure,
  pinnedTlsOptions,
  type DaemonClient,
} from '@virtos/server';
import { EXIT } from '../../io.js';

/** The local terminal the session uses (process.stdin/stdout by default). */
export interface TerminalIo {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

/** Why a stream ended without the shell's exit code, by WebSocket close code (docs/gateway.md). */
const CLOSE_REASONS: Readonly<Record<number, string>> = {
  1001: 'the daemon is shutting down',
  4001: 'the environment was suspended',
  4002: 'the environment was terminated',
  4003: 'the session was idle too long',
  4004: 'the shell closed the connection',
  4005: 'the shell could not be started',
  4006: 'the connection stopped answering',
};

/**
 * Runs an interactive shell in `id` through the daemon at `daemonUrl`; resolves with the shell's
 * exit code, or {@link EXIT.unavailable} when the stream ended without one (the reason is printed).
 */
export async function runTerminal(
  client: DaemonClient,
  daemonUrl: string,
  id: string,
  io: TerminalIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const { url } = await client.streamToken(id);
  const pin = client.transport instanceof HttpTransport ? client.transport.pin : undefined;
  // SECURITY: the gateway accepts only the daemon's own origins; the CLI is a client of that
  // daemon, so it presents the daemon's origin exactly as the shell page would. Against an https
  // daemon the stream is wss:// and trusts only the certificate recorded in daemon.json.
  const ws = new WebSocket(daemonUrl.replace(/^http/, 'ws') + url, ['binary'], {
    origin: daemonUrl,
    perMessageDeflate: false,
    // ws hands these to tls.connect; its typing of checkServerIdentity predates Node's.
    ...(pin && (pinnedTlsOptions(pin) as unknown as WebSocket.ClientOptions)),
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      reject(
        ServerErrors.create(
          'not_streamable',
          `The daemon refused a terminal for ${id} (HTTP ${res.statusCode}).`,
          { subject: id, hint: 'Is the environment running? `virtos env show ID` says.' },
        ),
      );
    });
    ws.once('error', (e) =>
      reject(
        certificateFailure(e, daemonUrl) ??
          ServerErrors.create(
            'daemon_unreachable',
            `Cannot open a terminal for ${id}: ${e.message}`,
            {
              subject: id,
            },
          ),
      ),
    );
  });

  const { stdin, stdout, stderr } = io;
  const raw = stdin.isTTY === true;
  const sendSize = (): void => {
    const cols = stdout.columns;
    const rows = stdout.rows;
    if (cols > 0 && rows > 0 && ws.readyState === WebSocket.OPEN) {
      ws.send(
        JSON.stringify({ type: 'resize', cols: Math.min(cols, 1000), rows: Math.min(rows, 1000) }),
      );
    }
  };
  const onInput = (chunk: Buffer): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(chunk, { binary: true });
  };
  if (raw) stdin.setRawMode(true);
  stdin.on('data', onInput);
  stdin.resume();
  stdout.on('resize', sendSize);
  sendSize();

  let exitCode: number | undefined;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      stdout.write(data);
      return;
    }
    try {
      const m = JSON.parse(data.toString('utf8')) as { type?: string; code?: number };
      if (m.type === 'exit' && typeof m.code === 'number') exitCode = m.code;
    } catch {
      // Not a control message we know: ignored, like the protocol says.
    }
  });
  const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
  );
  stdin.off('data', onInput);
  stdout.off('resize', sendSize);
  if (raw) stdin.setRawMode(false);
  stdin.pause();
  if (exitCode !== undefined) return exitCode < 0 ? EXIT.unavailable : exitCode;
  const why = CLOSE_REASONS[closed.code] ?? (closed.reason || `closed (${closed.code})`);
  stderr.write(`\r\nvirtos: the terminal of ${id} ended: ${why}.\r\n`);
  return EXIT.unavailable;
}
