/**
 * Reading passphrases and recovery keys for `virtos vault`: from a file descriptor
 * (`--passphrase-fd N`), from standard input when it is a pipe, or from the terminal without echo.
 * Never from argv, where other users could read them in the process list.
 */
import { readFileSync } from 'node:fs';
import { defineErrors } from '@virtos/core';

/** Errors of secret input. */
export const SecretErrors = defineErrors('cli', {
  no_secret: 'invalid_argument',
  mismatch: 'invalid_argument',
});

/** Reads successive lines from file descriptors; each fd is read to its end once. */
export class SecretSource {
  private readonly lines = new Map<number, string[]>();

  constructor(
    private readonly stdin: NodeJS.ReadStream = process.stdin,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  private fromFd(fd: number, what: string): string {
    let queue = this.lines.get(fd);
    if (!queue) {
      let text: string;
      try {
        text = readFileSync(fd, 'utf8');
      } catch (e) {
        throw SecretErrors.create('no_secret', `Cannot read the ${what} from fd ${fd}.`, {
          hint: 'Open the descriptor for reading, e.g. 3< file.',
          cause: e,
        });
      }
      queue = text.split(/\r?\n/);
      if (queue.at(-1) === '') queue.pop();
      this.lines.set(fd, queue);
    }
    const line = queue.shift();
    if (line === undefined || line === '') {
      throw SecretErrors.create('no_secret', `No ${what} on fd ${fd}.`, {
        hint: 'Write one per line.',
      });
    }
    return line;
  }

  private async fromTty(prompt: string): Promise<string> {
    const input = this.stdin;
    this.stderr.write(prompt);
    // SECURITY: raw mode turns echo off, so the secret is not shown on the screen.
    input.setRawMode(true);
    input.resume();
    return new Promise((resolve, reject) => {
      let text = '';
      const done = (err?: Error) => {
        input.setRawMode(false);
        input.pause();
        input.off('data', onData);
        this.stderr.write('\n');
        if (err) reject(err);
        else resolve(text);
      };
      const onData = (buf: Buffer) => {
        for (const ch of buf.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return done();
          if (ch === '\u0003') return done(new Error('Cancelled.'));
          if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
          else text += ch;
        }
      };
      input.on('data', onData);
    });
  }

  /**
   * One secret: from `fd` when given, else the terminal (no echo), else a line of standard input.
   */
  async read(what: string, fd: number | undefined): Promise<string> {
    if (fd !== undefined) return this.fromFd(fd, what);
    if (this.stdin.isTTY) {
      const s = await this.fromTty(`${what[0]!.toUpperCase()}${what.slice(1)}: `);
      if (s === '') throw SecretErrors.create('no_secret', `The ${what} is empty.`);
      return s;
    }
    return this.fromFd(0, what);
  }

  /** A new secret: asked twice on a terminal; read once from a descriptor or pipe. */
  async readNew(what: string, fd: number | undefined): Promise<string> {
    const first = await this.read(what, fd);
    if (fd === undefined && this.stdin.isTTY) {
      const again = await this.read(`${what} again`, undefined);
      if (again !== first) throw SecretErrors.create('mismatch', `The two ${what}s differ.`);
    }
    return first;
  }
}
