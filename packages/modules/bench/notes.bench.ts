/**
 * Note open/save round-trip through the daemon's HTTP API (the path the shell's broker takes for
 * a module call), on a real vault: p50/p95 in ms of save (PATCH, one sealed commit) and open (GET).
 * Run: npm run bench:modules.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger } from '@virtos/core';
import { Orchestrator } from '@virtos/orchestrator';
import { FakeProvisioner } from '@virtos/runtime';
import { createDaemon, VaultRegistryStore } from '@virtos/server';

const N = Number(process.env['BENCH_N'] ?? 300);
const FAST_KDF = { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const home = await mkdtemp(join(tmpdir(), 'virtos-bench-modules-'));
const daemon = await createDaemon({
  home,
  port: 0,
  logger: nullLogger,
  kdf: FAST_KDF,
  allowWeakKdf: true,
  makeOrchestrator: (vault, logger) =>
    new Orchestrator({
      store: new VaultRegistryStore(vault),
      provisioner: new FakeProvisioner(),
      logger,
      reconcileIntervalMs: 60_000,
    }),
});
try {
  const url = await daemon.listen();
  const init = await fetch(`${url}/api/vault/init`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ passphrase: 'bench passphrase' }),
  });
  const { token } = (await init.json()) as { token: string };
  const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const body = '# Bench\n\n' + 'A line of a typical note with **markdown**.\n'.repeat(60);
  const created = (await (
    await fetch(`${url}/api/notes`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({ title: 'bench', body, tags: ['bench'] }),
    })
  ).json()) as { id: string };
  const save: number[] = [];
  const open: number[] = [];
  for (let i = 0; i < N; i++) {
    let t = performance.now();
    const r = await fetch(`${url}/api/notes/${created.id}`, {
      method: 'PATCH',
      headers: h,
      body: JSON.stringify({ body: `${body}\nedit ${i}` }),
    });
    await r.arrayBuffer();
    save.push(performance.now() - t);
    t = performance.now();
    const g = await fetch(`${url}/api/notes/${created.id}`, { headers: h });
    await g.arrayBuffer();
    open.push(performance.now() - t);
  }
  const f = (x: number) => x.toFixed(2);
  console.log(`note size: ${Buffer.byteLength(body)} bytes, ${N} rounds`);
  console.log(
    `note save (PATCH, one vault commit): p50 ${f(pct(save, 50))} ms, p95 ${f(pct(save, 95))} ms`,
  );
  console.log(
    `note open (GET):                     p50 ${f(pct(open, 50))} ms, p95 ${f(pct(open, 95))} ms`,
  );
} finally {
  await daemon.close();
  await rm(home, { recursive: true, force: true });
}
