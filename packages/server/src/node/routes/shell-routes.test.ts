import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, nullLogger } from '@virtos/core';
import { buildApp } from '../app.js';
import { PersonalState, type UnlockedService } from '../personal-state.js';
import { SessionManager } from '../session-manager.js';
import { AUDIT_COLLECTION, registerShellRoutes } from './shell-routes.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const HOST = '127.0.0.1:7460';

async function setup() {
  const root = mkdtempSync(join(tmpdir(), 'virtos-shell-routes-'));
  dirs.push(root);
  const dist = join(root, 'dist');
  mkdirSync(dist, { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<html>');
  writeFileSync(
    join(dist, 'canary-manifest.json'),
    JSON.stringify({
      version: 1,
      createdAt: '',
      shell: { 'index.html': sha('<html>') },
      daemon: {},
    }),
  );
  const clock = new ManualClock();
  const sessions = new SessionManager({ clock });
  const service: UnlockedService = { start: async () => {}, dispose: () => {} };
  const state = new PersonalState<UnlockedService>({
    vaultPath: join(root, 'home', 'vault.virtos'),
    deviceDir: join(root, 'home', 'device'),
    makeService: () => service,
    logger: nullLogger,
    kdf: { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 },
    allowWeakKdf: true,
  });
  const { app } = await buildApp({
    identity: () => ({ host: '127.0.0.1', port: 7460 }),
    sessions,
    logger: nullLogger,
    clock,
    version: 'test',
  });
  registerShellRoutes(app, {
    state,
    sessions,
    logger: nullLogger,
    clock,
    home: join(root, 'home'),
    identity: () => ({ host: '127.0.0.1', port: 7460 }),
    idleS: 900,
    canaryIntervalMs: 1000,
    canaryPaths: { distDir: dist, repoRoot: root },
  });
  await app.ready();
  await state.init('correct horse battery staple');
  const token = sessions.issue();
  const req = (method: 'GET' | 'PUT' | 'POST', url: string, payload?: unknown) =>
    app.inject({
      method,
      url,
      headers: { host: HOST, authorization: `Bearer ${token}` },
      ...(payload !== undefined && { payload: payload as Record<string, unknown> }),
    });
  return { app, state, clock, dist, req };
}

describe('shell routes', () => {
  it('stores settings in the vault and refuses unknown keys and large values', async () => {
    const { app, state, req } = await setup();
    const layout = { version: 1, windows: [] };
    expect((await req('PUT', '/api/shell/settings/layout', { value: layout })).statusCode).toBe(
      204,
    );
    expect((await req('GET', '/api/shell/settings')).json()).toEqual({ layout });
    expect((await req('PUT', '/api/shell/settings/other', { value: 1 })).statusCode).toBe(400);
    const big = (
      await req('PUT', '/api/shell/settings/prefs', { value: 'x'.repeat(70_000) })
    ).json();
    expect(big.error.code).toBe('server.body_too_large');
    await state.lock();
    expect((await req('GET', '/api/shell/settings')).json().error.code).toBe('server.locked');
    await app.close();
    await state.close();
  });

  it('a canary mismatch found by the periodic check is reported and written to the audit log', async () => {
    const { app, state, clock, dist, req } = await setup();
    expect((await req('GET', '/api/shell/canary')).json()).toMatchObject({ state: 'ok' });
    writeFileSync(join(dist, 'index.html'), '<html><script src=//evil>');
    clock.advance(1000);
    // The periodic check writes the audit entry by itself (no request needed).
    await expect
      .poll(() => state.currentVault().records(AUDIT_COLLECTION).entries().length)
      .toBe(1);
    const s = (await req('GET', '/api/shell/canary')).json();
    expect(s).toMatchObject({ state: 'mismatch', count: 1 });
    expect(s.mismatches).toEqual([{ part: 'shell', path: 'index.html', problem: 'changed' }]);
    const audit = state.currentVault().records(AUDIT_COLLECTION).entries<{ action: string }>();
    expect(audit.map((e) => e.value.action)).toEqual(['canary.mismatch']);
    // Before unlock only the verdict is public.
    await state.lock();
    const pub = (
      await app.inject({ method: 'GET', url: '/api/shell/canary', headers: { host: HOST } })
    ).json();
    expect(pub).toMatchObject({ state: 'mismatch', count: 1, mismatches: [] });
    await app.close();
    await state.close();
  });

  it('passkey options list no credentials for a vault without passkey slots', async () => {
    const { app, state, req } = await setup();
    const o = (await req('GET', '/api/passkey/options')).json();
    expect(o.credentials).toEqual([]);
    expect(o.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await app.close();
    await state.close();
  });
});
