/**
 * Prints setup and teardown times of each network mode (p50 / p95 in ms). Needs root.
 * Run: `npx tsx packages/sandbox/src/node/network/network.bench.ts [rounds]` (default 15 rounds).
 * A script that prints numbers, never a timed assertion.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { NetworkMode } from '@virtos/spec';

import { createNetworkManager } from './manager.js';

const rounds = Number(process.argv[2] ?? 15);
const pct = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

const stateDir = await mkdtemp(join(tmpdir(), 'virtos-net-bench-'));
const manager = createNetworkManager({
  stateDir,
  tor: { transPort: 9040, dnsPort: 9053 },
  internetDnsServers: [],
});
try {
  for (const mode of ['none', 'allowlist', 'internet', 'tor'] as NetworkMode[]) {
    const setup: number[] = [];
    const teardown: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const a = await manager.setup(
        { id: `bench-${mode}-${process.pid}-${i}`, name: `bench-${i}` },
        { mode, allow: mode === 'allowlist' ? ['example.com'] : [], peers: [] },
      );
      const t1 = performance.now();
      await a.dispose();
      const t2 = performance.now();
      setup.push(t1 - t0);
      teardown.push(t2 - t1);
    }
    console.log(
      `${mode.padEnd(9)} setup p50 ${pct(setup, 50).toFixed(0)} ms p95 ${pct(setup, 95).toFixed(0)} ms | ` +
        `teardown p50 ${pct(teardown, 50).toFixed(0)} ms p95 ${pct(teardown, 95).toFixed(0)} ms (${rounds} rounds)`,
    );
  }
} finally {
  await manager.dispose();
  await rm(stateDir, { recursive: true, force: true });
}
