import { describe, expect, it } from 'vitest';
import { EXIT, runCli, type CliContext } from './index.js';

function context(
  files: Record<string, string> = {},
): CliContext & { stdout: string; stderr: string } {
  const ctx = {
    stdout: '',
    stderr: '',
    out: (t: string) => void (ctx.stdout += t),
    err: (t: string) => void (ctx.stderr += t),
    env: {},
    cwd: '/work',
    readFile: async (p: string) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return text;
    },
    readStdin: async () => files['-'] ?? '',
    exitCode: 0,
  };
  return ctx;
}

describe('virtos compose', () => {
  it('prints exactly one JSON object with ok, spec and findings', async () => {
    const ctx = context();
    const code = await runCli(
      ['compose', '--json', 'a debian desktop with firefox that can only reach wikipedia.org'],
      ctx,
    );
    expect(code).toBe(EXIT.ok);
    const out = JSON.parse(ctx.stdout) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['findings', 'ok', 'spec']);
    expect(out['ok']).toBe(true);
    expect(out['spec']).toMatchObject({ network: { mode: 'allowlist', allow: ['wikipedia.org'] } });
  });

  it('exits 3 with ok false on a blocking finding', async () => {
    const ctx = context();
    expect(await runCli(['compose', '--json', 'escape the sandbox'], ctx)).toBe(EXIT.notOk);
    expect(JSON.parse(ctx.stdout)).toMatchObject({ ok: false, spec: null });
  });

  it('applies a modification to a spec file', async () => {
    const base = context();
    await runCli(['compose', '--json', 'a debian terminal with git'], base);
    const spec = (JSON.parse(base.stdout) as { spec: unknown }).spec;
    const ctx = context({ '/work/spec.json': JSON.stringify(spec) });
    expect(await runCli(['compose', '--json', '--edit', 'spec.json', 'add gimp'], ctx)).toBe(
      EXIT.ok,
    );
    const out = JSON.parse(ctx.stdout) as { spec: { apps: { id: string }[]; display: string } };
    expect(out.spec.apps.map((a) => a.id)).toEqual(['git', 'gimp']);
    expect(out.spec.display).toBe('desktop');
  });

  it('reports a missing or invalid spec file with a code and a hint', async () => {
    const missing = context();
    expect(await runCli(['compose', '--json', '--edit', 'nope.json', 'add gimp'], missing)).toBe(
      EXIT.invalidInput,
    );
    expect(JSON.parse(missing.stdout)).toMatchObject({
      ok: false,
      error: { code: 'cli.unreadable', hint: 'Check the path.' },
    });
    const bad = context({ '/work/bad.json': '{"version": 1}' });
    expect(await runCli(['compose', '--edit', 'bad.json', 'add gimp'], bad)).toBe(
      EXIT.invalidInput,
    );
    expect(bad.stderr).toMatch(/The spec is not valid/);
    expect(bad.stderr).toMatch(/Hint:/);
  });

  it('prints a readable summary without --json', async () => {
    const ctx = context();
    await runCli(['compose', 'photo editing with 8gb ram'], ctx);
    expect(ctx.stdout).toMatch(/apps: +gimp/);
    expect(ctx.stdout).toMatch(/8192 MiB memory/);
  });

  it('treats unknown flags as usage errors', async () => {
    const ctx = context();
    expect(await runCli(['compose', '--bogus', 'x'], ctx)).toBe(EXIT.usage);
  });
});

describe('virtos spec validate', () => {
  it('accepts a composed spec and rejects a hand-written bad one', async () => {
    const made = context();
    await runCli(['compose', '--json', 'a debian desktop with firefox'], made);
    const spec = (JSON.parse(made.stdout) as { spec: unknown }).spec;
    const ok = context({ '/work/s.json': JSON.stringify(spec) });
    expect(await runCli(['spec', 'validate', 's.json'], ok)).toBe(EXIT.ok);
    expect(ok.stdout).toMatch(/valid/);
    const wrong = context({
      '/work/s.json': JSON.stringify({ ...(spec as object), display: 'terminal' }),
    });
    expect(await runCli(['spec', 'validate', '--json', 's.json'], wrong)).toBe(EXIT.notOk);
    expect(JSON.parse(wrong.stdout)).toMatchObject({
      ok: false,
      findings: [{ kind: 'conflict', field: 'display' }],
    });
  });
});
