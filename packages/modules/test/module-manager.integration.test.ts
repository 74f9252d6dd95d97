/**
 * The Module Manager window of the REAL shell in headless Chromium against a real daemon: install
 * a built-in with its grants and open it from the launcher; disable it (its window closes, it
 * leaves the launcher and cannot be opened); enable; remove (with its data); install a package
 * from a file with a reduced grant, and a call outside that grant is refused by the broker.
 * Screenshots go to artifacts/modules/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nullLogger } from '@virtos/core';
import { Orchestrator } from '@virtos/orchestrator';
import { FakeProvisioner } from '@virtos/runtime';
import { createDaemon, VaultRegistryStore, type Daemon } from '@virtos/server';
import { buildModules, bundleScript, MODULES_ROOT } from '../scripts/build.js';
import {
  ARTIFACTS,
  ensureShellBuilt,
  launchChromium,
  moduleFrame,
  openApp,
  shellPage,
  unlock,
  type Browser,
  type Page,
} from './shell-page.js';

const PASS = 'module manager test passphrase';
const FAST_KDF = { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const;

let home: string;
let daemon: Daemon;
let token: string;
let browser: Browser;
let page: Page;
let packageFile: string;
const errors: string[] = [];

async function api<T>(method: string, path: string): Promise<{ status: number; json: T }> {
  const res = await fetch(`${daemon.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

const shot = (name: string) =>
  page.screenshot({ path: join(ARTIFACTS, `module-manager-${name}.png`) });
const manager = () => page.locator('[data-window="shell:modules"]');
const launcherHas = async (appId: string) => {
  await page.getByTestId('launcher').click();
  const n = await page.locator(`[data-app="${appId}"]`).count();
  await page.getByTestId('launcher').click();
  return n > 0;
};

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  ensureShellBuilt();
  await buildModules();
  home = await mkdtemp(join(tmpdir(), 'virtos-modman-'));
  daemon = await createDaemon({
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
  const url = (await daemon.listen()).replace('127.0.0.1', 'localhost');
  const init = await fetch(`${daemon.url}/api/vault/init`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ passphrase: PASS }),
  });
  token = ((await init.json()) as { token: string }).token;
  // A module package file as a user would pick it: manifest, bundled script.
  packageFile = join(home, 'grant-probe.module.json');
  await writeFile(
    packageFile,
    JSON.stringify({
      manifest: {
        id: 'grant-probe',
        name: 'Grant probe',
        version: '0.0.1',
        entry: 'main.js',
        capabilities: ['notes:read', 'notes:write'],
      },
      script: await bundleScript(join(MODULES_ROOT, 'test', 'fixtures', 'grant-probe.ts')),
    }),
  );
  browser = await launchChromium();
  page = await shellPage(browser, errors);
  await unlock(page, url, PASS);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('Module Manager window', () => {
  it('lists the built-in catalog and installs Notes with its grants; it opens from the launcher', async () => {
    await openApp(page, 'shell:modules');
    const card = manager().locator('[data-catalog="notes"]');
    await card.waitFor();
    for (const id of ['environments', 'files', 'notes', 'search', 'security', 'settings']) {
      expect(await manager().locator(`[data-catalog="${id}"]`).count(), id).toBe(1);
    }
    await shot('catalog');
    await card.locator('[data-action="install"]').click();
    const row = manager().locator('[data-module="notes"]');
    await row.waitFor();
    expect(await row.locator('.cap.granted').allTextContents()).toEqual([
      '✓ notes:read',
      '✓ notes:write',
      '✓ search',
    ]);
    expect(await launcherHas('module:notes')).toBe(true);
    await row.locator('[data-action="open"]').click();
    await moduleFrame(page, 'notes');
    await shot('notes-open');
  });

  it('disable: the window closes, the launcher drops it, and it cannot be opened', async () => {
    await page.locator('.taskbar .task', { hasText: 'Module Manager' }).click();
    const row = manager().locator('[data-module="notes"]');
    await row.locator('[data-action="disable"]').click();
    await manager().locator('[data-module="notes"][data-enabled="false"]').waitFor();
    await page.locator('[data-window="module:notes"]').waitFor({ state: 'detached' });
    expect(await launcherHas('module:notes')).toBe(false);
    expect(await row.locator('[data-action="open"]').count()).toBe(0);
    // The daemon refuses a frame for a disabled module, whoever asks.
    const frame = await api<{ error: { code: string } }>('POST', '/api/modules/notes/frame');
    expect(frame.status).toBe(409);
    expect(frame.json.error.code).toBe('modules.disabled');
    await shot('disabled');
    await row.locator('[data-action="enable"]').click();
    await manager().locator('[data-module="notes"][data-enabled="true"]').waitFor();
    expect(await launcherHas('module:notes')).toBe(true);
  });

  it('remove: the module and its data go; it is back in the catalog', async () => {
    const row = manager().locator('[data-module="notes"]');
    await row.locator('[data-action="remove"]').click();
    await row.locator('[data-action="confirm-remove"]').click();
    await row.waitFor({ state: 'detached' });
    await manager().locator('[data-catalog="notes"]').waitFor();
    expect(await launcherHas('module:notes')).toBe(false);
    const list = await api<{ manifest: { id: string } }[]>('GET', '/api/modules');
    expect(list.json.map((m) => m.manifest.id)).not.toContain('notes');
  });

  it('installs a package from a file with a reduced grant; a call outside it is refused', async () => {
    await manager().getByTestId('package-file').setInputFiles(packageFile);
    const pending = manager().locator('[data-pending="grant-probe"]');
    await pending.waitFor();
    // A package from a file starts with nothing ticked; the user grants notes:read only.
    expect(await pending.locator('input[data-cap="notes:read"]').isChecked()).toBe(false);
    expect(await pending.locator('input[data-cap="notes:write"]').isChecked()).toBe(false);
    await pending.locator('input[data-cap="notes:read"]').check();
    await shot('package-grants');
    await pending.locator('[data-action="install-package"]').click();
    const row = manager().locator('[data-module="grant-probe"]');
    await row.waitFor();
    expect(await row.locator('.cap').allTextContents()).toEqual(['✓ notes:read', '✗ notes:write']);
    await openApp(page, 'module:grant-probe');
    const f = await moduleFrame(page, 'grant-probe');
    const out = JSON.parse((await f.textContent('#out')) ?? '{}') as Record<string, string>;
    expect(out).toEqual({
      'notes.list': 'ok',
      'notes.create': 'refused module.capability_denied',
    });
    const notes = await api<unknown[]>('GET', '/api/notes');
    expect(notes.json).toEqual([]);
    await shot('reduced-grant');
    expect(errors).toEqual([]);
  });
});
