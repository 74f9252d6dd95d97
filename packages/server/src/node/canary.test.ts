import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, nullLogger } from '@virtos/core';
import { CANARY_MANIFEST, CanaryMonitor } from './canary.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function fixture() {
  const root = mkdtempSync(join(tmpdir(), 'virtos-canary-'));
  dirs.push(root);
  const dist = join(root, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  mkdirSync(join(root, 'packages', 'server', 'src'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<html>');
  writeFileSync(join(dist, 'assets', 'main.js'), 'console.log(1)');
  writeFileSync(join(root, 'packages', 'server', 'src', 'a.ts'), 'export {}');
  writeFileSync(
    join(dist, CANARY_MANIFEST),
    JSON.stringify({
      version: 1,
      createdAt: 'now',
      shell: { 'index.html': sha('<html>'), 'assets/main.js': sha('console.log(1)') },
      daemon: { 'packages/server/src/a.ts': sha('export {}') },
    }),
  );
  const clock = new ManualClock();
  const monitor = new CanaryMonitor({
    logger: nullLogger,
    clock,
    distDir: dist,
    repoRoot: root,
    intervalMs: 1000,
  });
  return { root, dist, clock, monitor };
}

describe('CanaryMonitor', () => {
  it('is ok when the files match the manifest', () => {
    const { monitor } = fixture();
    expect(monitor.status).toMatchObject({ state: 'ok', filesChecked: 3, mismatches: [] });
    expect(monitor.drainAudit()).toEqual([]);
  });

  it('finds changed, missing and added files on the periodic re-check, and queues one audit entry', () => {
    const { root, dist, clock, monitor } = fixture();
    monitor.start();
    writeFileSync(join(dist, 'assets', 'main.js'), 'steal()');
    writeFileSync(join(dist, 'assets', 'extra.js'), 'x');
    rmSync(join(root, 'packages', 'server', 'src', 'a.ts'));
    clock.advance(1000);
    expect(monitor.status.state).toBe('mismatch');
    expect(monitor.status.mismatches).toEqual(
      expect.arrayContaining([
        { part: 'shell', path: 'assets/main.js', problem: 'changed' },
        { part: 'shell', path: 'assets/extra.js', problem: 'unexpected' },
        { part: 'daemon', path: 'packages/server/src/a.ts', problem: 'missing' },
      ]),
    );
    clock.advance(1000);
    const audit = monitor.drainAudit();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'canary.mismatch' });
    monitor.dispose();
  });

  it('says unbuilt without a manifest, and mismatch for a garbled one', () => {
    const { dist, monitor } = fixture();
    rmSync(join(dist, CANARY_MANIFEST));
    expect(monitor.check().state).toBe('unbuilt');
    writeFileSync(join(dist, CANARY_MANIFEST), '{not json');
    expect(monitor.check().state).toBe('mismatch');
  });
});
