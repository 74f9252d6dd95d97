/**
 * The desktop viewer in headless Chromium against a real daemon and the REAL OCI runtime: a
 * desktop environment with xterm, the real DesktopViewer (noVNC) under the daemon's CSP, a
 * command typed with real key events and read back from the framebuffer (pixels changed where
 * the text is; screenshots in artifacts/viewer/), the embedded keyboard's keys, the clipboard
 * both ways (and refused for an isolated environment), and the reason shown on suspend (4001).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  ensureBuilt,
  launchChromium,
  type Browser,
  type Page,
} from './helpers/harness.js';
import {
  VIEWER_PASS,
  PAGE_BASE,
  buildViewerPage,
  servePage,
  startRealDaemon,
  viewerSkipReason,
  type RealDaemon,
} from './helpers/viewer-daemon.js';

const skip = await viewerSkipReason();
const OUT = join(ARTIFACTS, 'viewer');

/** The framebuffer of viewer `name` as RGBA bytes (noVNC's canvas, remote resolution). */
async function frame(page: Page, name: string): Promise<{ w: number; h: number; px: number[] }> {
  return page.evaluate((n) => {
    const c = document.querySelector<HTMLCanvasElement>(`#${n} canvas`);
    if (!c) throw new Error('no canvas');
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
    return { w: c.width, h: c.height, px: Array.from(d.data) };
  }, name);
}

/** Pixels that differ between two frames, and their bounding box. */
function diff(
  a: { w: number; h: number; px: number[] },
  b: { w: number; h: number; px: number[] },
): { changed: number; box: { x0: number; y0: number; x1: number; y1: number } } {
  let changed = a.px.length === b.px.length ? 0 : Math.max(a.px.length, b.px.length) / 4;
  const box = { x0: Infinity, y0: Infinity, x1: -1, y1: -1 };
  for (let i = 0; i < a.px.length; i += 4) {
    if (a.px[i] !== b.px[i] || a.px[i + 1] !== b.px[i + 1] || a.px[i + 2] !== b.px[i + 2]) {
      changed++;
      const x = (i / 4) % a.w;
      const y = Math.floor(i / 4 / a.w);
      box.x0 = Math.min(box.x0, x);
      box.y0 = Math.min(box.y0, y);
      box.x1 = Math.max(box.x1, x);
      box.y1 = Math.max(box.y1, y);
    }
  }
  return { changed, box };
}

/** Number of distinct colours in a frame (a blank desktop has one or two). */
function colours(f: { px: number[] }): number {
  const s = new Set<number>();
  for (let i = 0; i < f.px.length; i += 4)
    s.add((f.px[i]! << 16) | (f.px[i + 1]! << 8) | f.px[i + 2]!);
  return s.size;
}

/** Waits until the frame differs from `before` and stays the same for a few polls. */
async function settledChange(
  page: Page,
  name: string,
  before: { w: number; h: number; px: number[] },
) {
  let last = before;
  let stable = 0;
  for (let i = 0; i < 100; i++) {
    await page.waitForTimeout(150);
    const f = await frame(page, name);
    if (diff(before, f).changed === 0) continue;
    stable = diff(last, f).changed === 0 ? stable + 1 : 0;
    last = f;
    if (stable >= 3) return f;
  }
  return last;
}

describe.skipIf(skip !== undefined)(
  `desktop viewer in Chromium (real runtime)${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let d: RealDaemon | undefined;
    let browser: Browser | undefined;
    let page: Page;
    let envId = '';

    beforeAll(async () => {
      mkdirSync(OUT, { recursive: true });
      ensureBuilt();
      const pageBuild = await buildViewerPage();
      d = await startRealDaemon();
      const out = (await d.client.create(
        { request: 'a debian desktop with xterm' },
        { wait: true },
      )) as {
        record: { id: string };
      };
      envId = out.record.id;
      for (let i = 0; i < 600; i++) {
        const r = await d.client.get(envId);
        if (r.state === 'running') break;
        if (r.state === 'failed') throw new Error(`environment failed: ${r.reason ?? ''}`);
        await new Promise((res) => setTimeout(res, 100));
      }
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
      await servePage(page, d.url, pageBuild);
      await page.goto(`${d.url}${PAGE_BASE}`);
      await page.waitForFunction(() => 'viewerTest' in window);
      await page.evaluate(
        (p) =>
          (
            window as unknown as { viewerTest: { unlock(p: string): Promise<void> } }
          ).viewerTest.unlock(p),
        VIEWER_PASS,
      );
    }, 300_000);

    afterAll(async () => {
      await browser?.close();
      await d?.close();
    }, 120_000);

    const open = (name: string, isolated: boolean) =>
      page.evaluate(
        ([n, id, iso]) =>
          (
            window as unknown as { viewerTest: { open(n: string, id: string, i: boolean): void } }
          ).viewerTest.open(n as string, id as string, iso as boolean),
        [name, envId, isolated] as const,
      );

    it('connects under the daemon CSP, types into xterm with real key events and reads the result from the framebuffer', async () => {
      const csp: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) csp.push(m.text());
      });
      await open('main', false);
      const viewer = page.locator('#main [data-testid="desktop-viewer"]');
      await expect
        .poll(() => viewer.getAttribute('data-state'), { timeout: 30_000 })
        .toBe('connected');
      // Wait for xterm to be painted (more than a flat background).
      await expect
        .poll(async () => colours(await frame(page, 'main')), { timeout: 30_000 })
        .toBeGreaterThan(8);
      const before = await settledChange(page, 'main', { w: 0, h: 0, px: [] });
      expect([before.w, before.h]).toEqual([1280, 800]);
      await page.locator('#main').screenshot({ path: join(OUT, '1-connected.png') });

      // Focus the remote desktop by clicking on it, then real key events from the page.
      await page.locator('#main canvas').click({ position: { x: 500, y: 300 } });
      await page.keyboard.type('echo VIRTOS_OK', { delay: 20 });
      await page.keyboard.press('Enter');
      const after = await settledChange(page, 'main', before);
      await page.locator('#main').screenshot({ path: join(OUT, '2-typed.png') });
      const { changed, box } = diff(before, after);
      // The command line and its output: a few text rows, at least as wide as "echo VIRTOS_OK".
      expect(changed).toBeGreaterThan(200);
      expect(box.y1 - box.y0).toBeLessThan(120);
      expect(box.x1 - box.x0).toBeGreaterThan(80);

      // The shell's embedded keyboard path: keys through sendKey (keysyms), no host key events.
      const sent = await page.evaluate(() => {
        const t = (window as unknown as { viewerTest: { sendKey(n: string, k: string): boolean } })
          .viewerTest;
        return [...'echo KB', 'Enter'].map((k) => t.sendKey('main', k));
      });
      expect(sent.every(Boolean)).toBe(true);
      const afterKb = await settledChange(page, 'main', after);
      const kb = diff(after, afterKb);
      expect(kb.changed).toBeGreaterThan(50);
      expect(kb.box.y0).toBeGreaterThanOrEqual(box.y0);
      await page.locator('#main').screenshot({ path: join(OUT, '3-embedded-keyboard.png') });
      expect(csp).toEqual([]);
    });

    it('clipboard both ways for a normal environment', async () => {
      const viewer = page.locator('#main [data-testid="desktop-viewer"]');
      await viewer.locator('button[aria-expanded]').click();
      await viewer.getByRole('menuitem', { name: 'Clipboard' }).click();
      await viewer.locator('textarea').fill('echo FROM_CLIPBOARD');
      await viewer.getByRole('button', { name: 'Send to environment' }).click();
      expect(await viewer.getAttribute('data-clipboard')).toBe('to-remote');
      // Xvnc sets PRIMARY too; a middle click pastes it into xterm.
      const before = await frame(page, 'main');
      await page.locator('#main canvas').click({ position: { x: 500, y: 300 }, button: 'middle' });
      const after = await settledChange(page, 'main', before);
      expect(diff(before, after).changed).toBeGreaterThan(100);
      await page.keyboard.press('Enter');
      await settledChange(page, 'main', after);
      await page.locator('#main').screenshot({ path: join(OUT, '4-clipboard-to-remote.png') });
    });

    it('clipboard is refused for an isolated environment', async () => {
      await open('iso', true);
      const viewer = page.locator('#iso [data-testid="desktop-viewer"]');
      await expect
        .poll(() => viewer.getAttribute('data-state'), { timeout: 30_000 })
        .toBe('connected');
      expect(await viewer.getAttribute('data-clipboard')).toBe('off');
      await viewer.locator('button[aria-expanded]').click();
      await viewer.getByRole('menuitem', { name: 'Clipboard' }).click();
      await expect
        .poll(() => viewer.getByTestId('viewer-clipboard-off').textContent())
        .toContain('isolated');
      expect(await viewer.locator('textarea').count()).toBe(0);
      await viewer.getByRole('button', { name: 'Send to environment' }).click();
      expect(await viewer.getAttribute('data-clipboard')).toBe('refused');
      await page.locator('#iso').screenshot({ path: join(OUT, '5-isolated-clipboard.png') });
    });

    it('shows why the stream ended when the environment is suspended (4001)', async () => {
      await d!.client.suspend(envId);
      const viewer = page.locator('#main [data-testid="desktop-viewer"]');
      await expect
        .poll(() => viewer.getAttribute('data-state'), { timeout: 30_000 })
        .toBe('suspended');
      expect(await viewer.getByTestId('viewer-message').textContent()).toContain('suspended');
      await page.locator('#main').screenshot({ path: join(OUT, '6-suspended.png') });
    });
  },
);
