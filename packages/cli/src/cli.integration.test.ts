import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/virtos.js', import.meta.url));
const run = (args: string[], input?: string) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, timeout: 60_000 });

describe('the virtos binary', () => {
  it('prints help and its version', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/compose/);
    expect(run(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('composes to JSON on stdout only, and validates what it made from stdin', () => {
    const r = run(['compose', '--json', 'untrusted pdf, no network']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; spec: { runtime: string } };
    expect(out.spec.runtime).toBe('microvm');
    const v = run(['spec', 'validate', '-'], JSON.stringify(out.spec));
    expect(v.status).toBe(0);
  });

  it('edits a spec file on disk and exits non-zero on a hostile request', () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtos-cli-'));
    const spec = JSON.parse(run(['compose', '--json', 'a debian terminal']).stdout).spec;
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    const edited = run([
      'compose',
      '--json',
      '--edit',
      join(dir, 'spec.json'),
      'give it 2 more gb of ram',
    ]);
    expect(JSON.parse(edited.stdout).spec.resources.memoryMiB).toBe(
      spec.resources.memoryMiB + 2048,
    );
    const hostile = run(['compose', 'mount the host filesystem']);
    expect(hostile.status).toBe(3);
    expect(hostile.stdout).toMatch(/never get access to the host/);
  });
});
