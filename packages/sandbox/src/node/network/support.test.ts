import { describe, expect, it } from 'vitest';

import { NetworkErrors } from './errors.js';
import type { CommandRunner } from './exec.js';
import { checkNetworkSupport } from './support.js';

describe('checkNetworkSupport', () => {
  it('reports tools, root, the address plan and tor, with hints for what is missing', async () => {
    const runner: CommandRunner = async (file, args) => {
      if (file === 'tor') throw NetworkErrors.create('tool_missing', "Cannot run 'tor'");
      if (file === 'ip' && args[0] === '-j') {
        return { stdout: JSON.stringify([{ dst: '10.0.0.0/8', dev: 'wg0' }]), stderr: '' };
      }
      return { stdout: `${file} 1.0\n`, stderr: '' };
    };
    const report = await checkNetworkSupport({ runner, isRoot: false });
    expect(report.map((c) => [c.name, c.ok])).toEqual([
      ['iproute2', true],
      ['nftables', true],
      ['root', false],
      ['address-plan', false],
      ['tor', false],
    ]);
    expect(report.find((c) => c.name === 'address-plan')?.detail).toContain('overlaps 10.0.0.0/8');
    expect(report.find((c) => c.name === 'tor')?.hint).toMatch(/apt-get install tor/);
  });
});
