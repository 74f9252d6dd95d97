/**
 * A stand-in for the runtime's PTY bridge (docs/gateway.md, "PTY bridge protocol"): a Unix socket
 * server that runs `script -q -e -c bash /dev/null` (-e: return the shell's exit code) per connection and speaks the gateway's framing.
 * Resize is applied with `stty -F <pts>` on the shell's terminal, which sets the window size and
 * signals the shell, like TIOCSWINSZ in the real bridge.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PTY_FRAME_CONTROL,
  PTY_FRAME_DATA,
  PtyFrameDecoder,
  encodePtyFrame,
} from '../../src/index.js';

/** A running stand-in bridge. */
export interface PtyBridgeStandIn {
  readonly socketPath: string;
  /** Control messages received from the gateway, parsed. */
  readonly controls: unknown[];
  stop(): Promise<void>;
}

function ptsOf(scriptPid: number): string | undefined {
  try {
    for (const tid of readdirSync(`/proc/${scriptPid}/task`)) {
      const kids = readFileSync(`/proc/${scriptPid}/task/${tid}/children`, 'utf8')
        .trim()
        .split(/\s+/);
      for (const k of kids) {
        if (!k) continue;
        const tty = readlinkSync(`/proc/${k}/fd/0`);
        if (tty.startsWith('/dev/pts/')) return tty;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export async function startPtyBridgeStandIn(): Promise<PtyBridgeStandIn> {
  const dir = mkdtempSync(join(tmpdir(), 'virtos-gw-pty-'));
  const socketPath = join(dir, 'pty.sock');
  const controls: unknown[] = [];
  const sockets = new Set<Socket>();
  const kids = new Set<ReturnType<typeof spawn>>();
  const server = createServer((s) => {
    sockets.add(s);
    const child = spawn('script', ['-q', '-e', '-c', 'bash --norc --noprofile', '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TERM: 'xterm', HOME: dir, PS1: '$ ' },
    });
    kids.add(child);
    const decoder = new PtyFrameDecoder();
    child.stdout.on('data', (d: Buffer) => s.write(encodePtyFrame(PTY_FRAME_DATA, d)));
    child.on('exit', (code) => {
      kids.delete(child);
      const msg = JSON.stringify({ type: 'exit', code: code ?? -1 });
      s.end(encodePtyFrame(PTY_FRAME_CONTROL, Buffer.from(msg)));
    });
    s.on('data', (d: Buffer) => {
      for (const f of decoder.feed(d)) {
        if (f.type === PTY_FRAME_DATA) child.stdin.write(f.payload);
        else if (f.type === PTY_FRAME_CONTROL) {
          const msg = JSON.parse(Buffer.from(f.payload).toString('utf8')) as {
            type: string;
            cols: number;
            rows: number;
          };
          controls.push(msg);
          const pts = child.pid === undefined ? undefined : ptsOf(child.pid);
          if (msg.type === 'resize' && pts) {
            execFile('stty', ['-F', pts, 'cols', String(msg.cols), 'rows', String(msg.rows)]);
          }
        }
      }
    });
    s.on('close', () => {
      sockets.delete(s);
      child.kill('SIGKILL');
    });
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(socketPath, () => r()));
  return {
    socketPath,
    controls,
    async stop() {
      for (const k of kids) k.kill('SIGKILL');
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
