import { describe, expect, it } from 'vitest';

import { NetworkErrors } from './errors.js';
import { execRunner } from './exec.js';

describe('execRunner', () => {
  it('maps a missing program to network.tool_missing with an install hint', async () => {
    const e = await execRunner('virtos-no-such-tool', []).catch((x: unknown) => x);
    expect(NetworkErrors.is(e, 'tool_missing')).toBe(true);
    expect((e as { hint?: string }).hint).toMatch(/Install/);
  });

  it('passes stdin and arguments without a shell', async () => {
    const out = await execRunner('cat', [], { input: '$(echo no shell) ; `x`' });
    expect(out.stdout).toBe('$(echo no shell) ; `x`');
    const args = await execRunner(process.execPath, [
      '-e',
      'console.log(process.argv[1])',
      'a b;c',
    ]);
    expect(args.stdout.trim()).toBe('a b;c');
  });

  it('reports a failing command as network.setup_failed with its stderr', async () => {
    const e = await execRunner(process.execPath, [
      '-e',
      'console.error("nope"); process.exit(3)',
    ]).catch((x: unknown) => x);
    expect(NetworkErrors.is(e, 'setup_failed')).toBe(true);
    expect((e as Error).message).toContain('nope');
  });
});
