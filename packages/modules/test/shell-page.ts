/**
 * Helpers for browser tests of modules inside the REAL shell (the production bundle the daemon
 * serves at `/`): build it when stale, open Chromium on it with the canary answer stubbed, unlock
 * with the passphrase typed on the embedded keyboard, open launcher apps and module frames.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Frame, type Locator, type Page } from 'playwright-core';

/** packages/ */
const PACKAGES = fileURLToPath(new URL('../../', import.meta.url));
const SHELL = join(PACKAGES, 'shell');
/** artifacts/modules/ */
export const ARTIFACTS = fileURLToPath(new URL('../../../artifacts/modules/', import.meta.url));

function isNewerThan(dir: string, t: number): boolean {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() ? isNewerThan(p, t) : statSync(p).mtimeMs > t) return true;
  }
  return false;
}

/**
 * Builds the shell when its dist/ is missing or older than any package's src/ (the rule of
 * scripts/setup.sh and the shell's own tests), so the page under test is the code under test.
 */
export function ensureShellBuilt(): void {
  const manifest = join(SHELL, 'dist', 'canary-manifest.json');
  if (existsSync(manifest)) {
    const t = statSync(manifest).mtimeMs;
    const stale = readdirSync(PACKAGES).some((p) => {
      const src = join(PACKAGES, p, 'src');
      return existsSync(src) && isNewerThan(src, t);
    });
    if (!stale) return;
  }
  execFileSync('npm', ['run', 'build', '-w', '@virtos/shell'], {
    cwd: join(PACKAGES, '..'),
    stdio: 'inherit',
    // Vitest sets NODE_ENV=test, which would make Vite build a development bundle.
    env: { ...process.env, NODE_ENV: 'production' },
  });
}

/** Headless Chromium with the flags of HOST-NOTES.md. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A page on the shell. Colleagues edit daemon sources while tests run, which trips the real
 * canary (a full-screen alert over every click), so the page sees an "ok" canary answer.
 */
export async function shellPage(browser: Browser, errors: string[]): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(() => {
    const real = window.fetch.bind(window);
    window.fetch = (input, init) => {
      if (String(input).endsWith('/api/shell/canary')) {
        const body = { state: 'ok', checkedAt: Date.now(), count: 0, mismatches: [] };
        return Promise.resolve(new Response(JSON.stringify(body), { status: 200 }));
      }
      return real(input, init);
    };
  });
  return page;
}

/** Types `text` on the embedded keyboard (by key names), the page's or the one inside `scope`. */
export async function typeOnKeyboard(page: Page, text: string, scope?: Locator): Promise<void> {
  const root = (scope ?? page.locator('body')).locator('[aria-label="embedded keyboard"]').first();
  for (const ch of text) {
    if (ch === ' ') {
      await root.getByRole('button', { name: 'space', exact: true }).dispatchEvent('pointerdown');
      continue;
    }
    const isUpper = ch !== ch.toLowerCase();
    const isSymbol = !/[a-zA-Z0-9]/.test(ch);
    if (isUpper)
      await root.getByRole('button', { name: 'shift', exact: true }).dispatchEvent('pointerdown');
    if (isSymbol)
      await root.getByRole('button', { name: 'symbols', exact: true }).dispatchEvent('pointerdown');
    await root.getByRole('button', { name: `key ${ch}`, exact: true }).dispatchEvent('pointerdown');
    if (isSymbol)
      await root.getByRole('button', { name: 'symbols', exact: true }).dispatchEvent('pointerdown');
  }
}

/** From the lock screen to the desktop, with the passphrase typed on the embedded keyboard. */
export async function unlock(page: Page, url: string, passphrase: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.locator('[data-screen="lock"]').waitFor();
  await typeOnKeyboard(page, passphrase);
  await page.getByTestId('secret-submit').click();
  await page.locator('[data-screen="desktop"]').waitFor();
  await page.waitForFunction(() => document.documentElement.dataset['desktopReady'] !== undefined);
}

/** Opens a launcher entry (`shell:modules`, `module:notes`…) and returns its window. */
export async function openApp(page: Page, appId: string) {
  await page.getByTestId('launcher').click();
  await page.locator(`[data-app="${appId}"]`).click();
  const win = page.locator(`[data-window="${appId}"]`);
  await win.waitFor();
  return win;
}

/** The ready frame of an open module window. */
export async function moduleFrame(page: Page, moduleId: string): Promise<Frame> {
  const handle = await page.waitForSelector(`[data-window="module:${moduleId}"] iframe`);
  const f = await handle.contentFrame();
  if (!f) throw new Error(`no frame for ${moduleId}`);
  await f.waitForSelector('#app[data-ready="true"]', { timeout: 20_000 });
  return f;
}

export type { Browser, Frame, Page };
