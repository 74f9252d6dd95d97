import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, runCli, type CliContext } from '../index.js';

describe('virtos (start the daemon): TLS options', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'virtos-cli-tls-'));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  function context(env: Record<string, string> = {}): CliContext & { stderr: string } {
    const ctx = {
      stderr: '',
      out: () => undefined,
      err: (t: string) => void (ctx.stderr += t),
      env: { VIRTOS_HOME: home, ...env },
      cwd: home,
      readFile: () => Promise.reject(new Error('unused')),
      readStdin: async () => '',
      exitCode: 0,
    };
    return ctx;
  }

  it('refuses a non-loopback --host without TLS, naming the flags, before anything starts', async () => {
    const ctx = context();
    const code = await runCli(['--host', '192.0.2.10', '--port', '0', '--no-open'], ctx);
    // server.tls_required (failed_precondition) with its message and hint.
    expect(code).toBe(EXIT.notOk);
    expect(ctx.stderr).toContain('Refusing to listen on 192.0.2.10 without TLS.');
    expect(ctx.stderr).toContain('--tls-cert');
    expect(ctx.stderr).toContain('--tls-self-signed');
    expect(existsSync(join(home, 'registry.json'))).toBe(false);
    expect(existsSync(join(home, 'daemon.json'))).toBe(false);
  });

  it('refuses a certificate without its key (flag or $VIRTOS_TLS_CERT) before anything starts', async () => {
    const flag = context();
    const code = await runCli(
      ['--tls-cert', join(home, 'c.pem'), '--port', '0', '--no-open'],
      flag,
    );
    // server.bad_option (invalid_argument).
    expect(code).toBe(EXIT.invalidInput);
    expect(flag.stderr).toContain('A TLS certificate needs its key');
    const env = context({ VIRTOS_TLS_CERT: join(home, 'c.pem') });
    expect(await runCli(['--port', '0', '--no-open'], env)).toBe(EXIT.invalidInput);
    expect(env.stderr).toContain('A TLS certificate needs its key');
    expect(existsSync(join(home, 'daemon.json'))).toBe(false);
  });

  it('refuses --tls-self-signed together with a certificate', async () => {
    const ctx = context();
    const code = await runCli(
      ['--tls-self-signed', '--tls-cert', 'c', '--tls-key', 'k', '--port', '0', '--no-open'],
      ctx,
    );
    expect(code).toBe(EXIT.invalidInput);
    expect(ctx.stderr).toContain('Both a certificate and --tls-self-signed');
  });
});
