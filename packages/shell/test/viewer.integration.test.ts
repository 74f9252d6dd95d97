/**
 * The desktop viewer in headless Chromium against a real daemon and the REAL OCI runtime, with a
 * desktop environment running xterm.
 *
 * In the real shell (served by the daemon, under its CSP): the environment's window (reopened from
 * a saved layout after unlock) shows the DesktopViewer; a command typed with real key events is
 * read back from the framebuffer (pixels changed where the text is; screenshots in
 * artifacts/viewer/); the embedded keyboard types into it; the clipboard works both ways.
 *
 * On a small test page with the same component and the daemon's CSP: an isolated viewer of the
 * same environment refuses the clipboard both ways, and shows why its stream ended when the
 * environment is suspended (close code 4001).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  ensureBuilt,
  launchChromium,
  typeOnKeyboard,
  type Browser,
  type Page,
} from './helpers/harness.js';
import {
  PAGE_BASE,
  VIEWER_PASS,
  buildViewerPage,
  launchChromiumForTestPage,
  servePage,
  startRealDaemon,
  viewerSkipReason,
  type RealDaemon,
  type ViewerPageBuild,
} from './helpers/viewer-daemon.js';

const skip = await viewerSkipReason();
const OUT = join(ARTIFACTS, 'viewer');

/**
 * A framebuffer snapshot kept in the page (noVNC's canvas, remote resolution): the test compares
 * snapshots there and gets back only the figures, not megabytes of pixels.
 */
type Frame = string;

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

interface Diff {
  changed: number;
  box: Box;
  /** Bands of changed rows (a text line each). */
  bands: Box[];
}

/** Installs the in-page snapshot and diff functions (once per page). */
async function installFrames(page: Page): Promise<void> {
  await page.evaluate(() => {
    type Snap = { w: number; h: number; d: Uint8ClampedArray };
    const snaps = new Map<string, Snap>();
    let next = 0;
    const w = window as unknown as Record<string, unknown>;
    w['__snap'] = (scope: string): string => {
      const c = document.querySelector<HTMLCanvasElement>(`${scope} canvas`);
      if (!c || c.width === 0) return '';
      const img = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
      const id = `f${next++}`;
      snaps.set(id, { w: c.width, h: c.height, d: img.data });
      return id;
    };
    w['__drop'] = (id: string) => void snaps.delete(id);
    w['__size'] = (id: string) => {
      const s = snaps.get(id);
      return s ? [s.w, s.h] : [0, 0];
    };
    w['__colours'] = (id: string): number => {
      const s = snaps.get(id);
      if (!s) return 0;
      const set = new Set<number>();
      for (let i = 0; i < s.d.length; i += 4)
        set.add((s.d[i]! << 16) | (s.d[i + 1]! << 8) | s.d[i + 2]!);
      return set.size;
    };
    w['__diff'] = (ia: string, ib: string) => {
      const a = snaps.get(ia);
      const b = snaps.get(ib);
      if (!a || !b || a.w !== b.w || a.h !== b.h) {
        const n = b ? b.w * b.h : 1;
        return { changed: n, box: { x0: 0, y0: 0, x1: 0, y1: 0 }, bands: [] };
      }
      let changed = 0;
      const box = { x0: Infinity, y0: Infinity, x1: -1, y1: -1 };
      const bands: { x0: number; y0: number; x1: number; y1: number }[] = [];
      for (let y = 0; y < a.h; y++) {
        let rx0 = Infinity;
        let rx1 = -1;
        for (let x = 0; x < a.w; x++) {
          const i = (y * a.w + x) * 4;
          if (a.d[i] !== b.d[i] || a.d[i + 1] !== b.d[i + 1] || a.d[i + 2] !== b.d[i + 2]) {
            changed++;
            if (x < rx0) rx0 = x;
            rx1 = x;
          }
        }
        if (rx1 < 0) continue;
        box.x0 = Math.min(box.x0, rx0);
        box.x1 = Math.max(box.x1, rx1);
        box.y0 = Math.min(box.y0, y);
        box.y1 = y;
        const last = bands[bands.length - 1];
        // Adjacent changed rows belong to the same text line.
        if (last && y - last.y1 <= 1) {
          last.y1 = y;
          last.x0 = Math.min(last.x0, rx0);
          last.x1 = Math.max(last.x1, rx1);
        } else bands.push({ x0: rx0, y0: y, x1: rx1, y1: y });
      }
      return { changed, box, bands };
    };
  });
}

function frame(page: Page, scope: string): Promise<Frame> {
  return page.evaluate(
    (s) => (window as unknown as { __snap(s: string): string }).__snap(s),
    scope,
  );
}

function diff(page: Page, a: Frame, b: Frame): Promise<Diff> {
  return page.evaluate(
    ([x, y]) => (window as unknown as { __diff(a: string, b: string): Diff }).__diff(x!, y!),
    [a, b],
  );
}

function colours(page: Page, f: Frame): Promise<number> {
  return page.evaluate(
    (x) => (window as unknown as { __colours(a: string): number }).__colours(x),
    f,
  );
}

/** Frees a snapshot (4 MiB each at 1280x800). */
function drop(page: Page, f: Frame): Promise<void> {
  return page.evaluate((x) => (window as unknown as { __drop(a: string): void }).__drop(x), f);
}

function size(page: Page, f: Frame): Promise<number[]> {
  return page.evaluate((x) => (window as unknown as { __size(a: string): number[] }).__size(x), f);
}

/** Polls until three consecutive frames are equal (whatever changed before). */
async function settled(page: Page, scope: string): Promise<Frame> {
  let last = await frame(page, scope);
  for (let i = 0, stable = 0; i < 60 && stable < 3; i++) {
    await page.waitForTimeout(150);
    const f = await frame(page, scope);
    stable = (await diff(page, last, f)).changed === 0 ? stable + 1 : 0;
    await drop(page, last);
    last = f;
  }
  return last;
}

/** Polls until the frame differs from `before` and then stays the same for three polls. */
async function settledChange(page: Page, scope: string, before: Frame): Promise<Frame> {
  let last = before;
  let stable = 0;
  for (let i = 0; i < 100; i++) {
    await page.waitForTimeout(150);
    const f = await frame(page, scope);
    if ((await diff(page, before, f)).changed === 0) {
      await drop(page, f);
      continue;
    }
    stable = (await diff(page, last, f)).changed === 0 ? stable + 1 : 0;
    if (last !== before) await drop(page, last);
    last = f;
    if (stable >= 3) return f;
  }
  return last;
}

/** The viewer's state once it is no longer connecting (logs the message otherwise). */
async function settle(page: Page, scope: string): Promise<string> {
  const viewer = page.locator(`${scope} [data-testid="desktop-viewer"]`);
  await expect
    .poll(() => viewer.getAttribute('data-state'), { timeout: 30_000 })
    .toMatch(/^(connected|disconnected|error|suspended|terminated)$/);
  const state = (await viewer.getAttribute('data-state')) ?? '';
  if (state !== 'connected') {
    console.log(
      `viewer ${scope}: ${state}: ${await viewer.getByTestId('viewer-message').textContent()}`,
    );
  }
  return state;
}

/** Page coordinates of framebuffer pixel (x, y) of the viewer under `scope`. */
async function toPage(page: Page, scope: string, x: number, y: number) {
  return page.evaluate(
    ([s, fx, fy]) => {
      const c = document.querySelector<HTMLCanvasElement>(`${s as string} canvas`)!;
      const r = c.getBoundingClientRect();
      return {
        x: r.left + ((fx as number) + 0.5) * (r.width / c.width),
        y: r.top + ((fy as number) + 0.5) * (r.height / c.height),
      };
    },
    [scope, x, y] as const,
  );
}

describe.skipIf(skip !== undefined)(
  `desktop viewer in Chromium (real runtime)${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let d: RealDaemon | undefined;
    let browser: Browser | undefined;
    let testBrowser: Browser | undefined;
    let shell: Page;
    let envId = '';
    let win = '';
    let pageBuild: ViewerPageBuild;
    /** The band of the command's output line (framebuffer coordinates). */
    let outputLine: Box | undefined;

    beforeAll(async () => {
      mkdirSync(OUT, { recursive: true });
      ensureBuilt();
      pageBuild = await buildViewerPage();
      d = await startRealDaemon();
      const out = (await d.client.create(
        { request: 'a debian desktop with xterm' },
        { wait: true },
      )) as { record: { id: string } };
      envId = out.record.id;
      win = `[data-window="env:${envId}"]`;
      for (let i = 0; i < 600; i++) {
        const r = await d.client.get(envId);
        if (r.state === 'running') break;
        if (r.state === 'failed') throw new Error(`environment failed: ${r.reason ?? ''}`);
        await new Promise((res) => setTimeout(res, 100));
      }
      // The shell reopens saved windows after unlock: save one for the environment.
      const layout = {
        version: 1,
        windows: [
          {
            appId: `env:${envId}`,
            x: 10,
            y: 10,
            w: 1060,
            h: 700,
            isMinimised: false,
            isMaximised: false,
            snap: null,
          },
        ],
      };
      const res = await fetch(`${d.url}/api/shell/settings/layout`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ value: layout }),
      });
      expect(res.status).toBeLessThan(300);
      browser = await launchChromium();
      shell = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
      shell.on('pageerror', (e) => console.log(`[shell] error: ${e.message}`));
    }, 300_000);

    afterAll(async () => {
      await browser?.close();
      await testBrowser?.close();
      await d?.close();
    }, 120_000);

    it('shell: the environment window connects under the daemon CSP; real key events reach xterm and show in the framebuffer', async () => {
      const refused: string[] = [];
      shell.on('console', (m) => {
        if (/Content Security Policy|Refused to|ERR_BLOCKED/i.test(m.text()))
          refused.push(m.text());
      });
      await shell.goto(`${d!.url}/`);
      await shell.locator('[data-screen="lock"]').waitFor();
      await typeOnKeyboard(shell, VIEWER_PASS);
      await shell.getByTestId('secret-submit').click();
      await shell.locator(win).waitFor();
      expect(await settle(shell, win)).toBe('connected');
      // xterm painted (more than a flat background), then settled.
      await installFrames(shell);
      await expect
        .poll(async () => colours(shell, await frame(shell, win)), { timeout: 30_000 })
        .toBeGreaterThan(8);
      const first = await settledChange(shell, win, '');
      expect(await size(shell, first)).toEqual([1280, 800]);
      await shell.screenshot({ path: join(OUT, '1-shell-connected.png') });

      // Focus the remote desktop by clicking it (xterm's cursor and frame change with focus),
      // then real key events from the page.
      const mid = await toPage(shell, win, 640, 400);
      await shell.mouse.click(mid.x, mid.y);
      const before = await settled(shell, win);
      await shell.keyboard.type('echo VIRTOS_OK', { delay: 25 });
      await shell.keyboard.press('Enter');
      const after = await settledChange(shell, win, before);
      await shell.screenshot({ path: join(OUT, '2-shell-typed.png') });
      const { changed, box, bands } = await diff(shell, before, after);
      // Text rows only: the command, its output, the next prompt.
      expect(changed).toBeGreaterThan(200);
      expect(bands.length).toBeGreaterThanOrEqual(2);
      expect(bands.every((b) => b.y1 - b.y0 < 24)).toBe(true);
      expect(box.y1 - box.y0).toBeLessThan(80);
      // The output line starts at the left edge of the terminal and is the widest of those.
      const left = Math.min(...bands.map((b) => b.x0));
      outputLine = bands
        .filter((b) => b.x0 - left < 4)
        .sort((a, b) => b.x1 - b.x0 - (a.x1 - a.x0))[0];
      expect(outputLine!.x1 - outputLine!.x0).toBeGreaterThan(30);
      expect(refused).toEqual([]);
    });

    it('shell: the embedded keyboard types into the environment', async () => {
      const before = await frame(shell, win);
      await shell.locator(`${win} button[aria-label="keyboard"]`).click();
      await typeOnKeyboard(shell, 'echo KB', win);
      await shell
        .locator(win)
        .locator('[aria-label="embedded keyboard"]')
        .getByRole('button', { name: 'enter', exact: true })
        .dispatchEvent('pointerdown');
      const after = await settledChange(shell, win, before);
      const { changed, box } = await diff(shell, before, after);
      expect(changed).toBeGreaterThan(50);
      expect(box.y0).toBeGreaterThan(outputLine!.y1);
      await shell.screenshot({ path: join(OUT, '3-shell-embedded-keyboard.png') });
      await shell.locator(`${win} button[aria-label="keyboard"]`).click();
    });

    it('shell: clipboard both ways (selection in xterm -> the page; text -> a middle-click paste)', async () => {
      const viewer = shell.locator(`${win} [data-testid="desktop-viewer"]`);
      expect(await viewer.getAttribute('data-clipboard')).toBe('idle');
      // Double-click the output word: xterm selects it, Xvnc sends it as server cut text. Under
      // load the two clicks can reach Xvnc further apart than xterm's multi-click time, so the
      // double-click is repeated (at most three times) until the selection arrives.
      const line = outputLine!;
      const at = await toPage(shell, win, line.x0 + 12, Math.round((line.y0 + line.y1) / 2));
      for (let attempt = 0; attempt < 3; attempt++) {
        await shell.mouse.dblclick(at.x, at.y);
        const arrived = await expect
          .poll(() => viewer.getAttribute('data-clipboard'), { timeout: 5_000 })
          .toBe('from-remote')
          .then(() => true)
          .catch(() => false);
        if (arrived) break;
      }
      expect(await viewer.getAttribute('data-clipboard')).toBe('from-remote');
      await viewer.locator('button[aria-expanded]').click();
      await viewer.getByRole('menuitem', { name: 'Clipboard' }).click();
      expect(await viewer.locator('.remote code').textContent()).toBe('VIRTOS_OK');
      await viewer.locator('textarea').fill('echo FROM_PAGE');
      await viewer.getByRole('button', { name: 'Send to environment' }).click();
      expect(await viewer.getAttribute('data-clipboard')).toBe('to-remote');
      await viewer.getByRole('button', { name: 'Close' }).click();
      await viewer.locator('button[aria-expanded]').click();
      // Xvnc puts it on PRIMARY too; a middle click pastes it into xterm.
      const before = await frame(shell, win);
      const mid = await toPage(shell, win, 640, 400);
      await shell.mouse.click(mid.x, mid.y, { button: 'middle' });
      const after = await settledChange(shell, win, before);
      expect((await diff(shell, before, after)).changed).toBeGreaterThan(100);
      await shell.screenshot({ path: join(OUT, '4-shell-clipboard.png') });
    });

    it('test page: clipboard refused both ways for an isolated environment', async () => {
      testBrowser = await launchChromiumForTestPage();
      const page = await testBrowser.newPage({ viewport: { width: 1100, height: 800 } });
      page.on('pageerror', (e) => console.log(`[page] error: ${e.message}`));
      await servePage(page, d!.url, pageBuild);
      await page.goto(`${d!.url}${PAGE_BASE}`);
      await page.waitForFunction(() => 'viewerTest' in window);
      await page.evaluate(
        ([p, id]) => {
          const t = (
            window as unknown as {
              viewerTest: {
                unlock(p: string): Promise<void>;
                open(n: string, id: string, i: boolean): void;
              };
            }
          ).viewerTest;
          return t.unlock(p as string).then(() => t.open('iso', id as string, true));
        },
        [VIEWER_PASS, envId] as const,
      );
      expect(await settle(page, '#iso')).toBe('connected');
      const viewer = page.locator('#iso [data-testid="desktop-viewer"]');
      expect(await viewer.getAttribute('data-clipboard')).toBe('off');
      // A selection in xterm: nothing reaches the page.
      await installFrames(page);
      await expect
        .poll(async () => colours(page, await frame(page, '#iso')), { timeout: 30_000 })
        .toBeGreaterThan(8);
      const line = outputLine!;
      const at = await toPage(page, '#iso', line.x0 + 12, Math.round((line.y0 + line.y1) / 2));
      await page.mouse.dblclick(at.x, at.y);
      await viewer.locator('button[aria-expanded]').click();
      await viewer.getByRole('menuitem', { name: 'Clipboard' }).click();
      expect(await viewer.getByTestId('viewer-clipboard-off').textContent()).toContain('isolated');
      expect(await viewer.locator('textarea').count()).toBe(0);
      expect(await viewer.locator('.remote').count()).toBe(0);
      expect(await viewer.getAttribute('data-clipboard')).toBe('off');
      await viewer.getByRole('button', { name: 'Send to environment' }).click();
      expect(await viewer.getAttribute('data-clipboard')).toBe('refused');
      await page.screenshot({ path: join(OUT, '5-isolated-clipboard.png') });

      // Direct touch: a long-press is a right click where the finger is (openbox opens its
      // root menu there); a pinch zooms the view locally.
      await viewer.getByRole('button', { name: 'Close' }).click();
      await viewer.locator('select').first().selectOption('direct');
      await viewer.locator('button[aria-expanded]').click();
      expect(await viewer.getByTestId('viewer-touch').count()).toBe(1);
      const cdp = await page.context().newCDPSession(page);
      const touch = (
        type: 'touchStart' | 'touchMove' | 'touchEnd',
        points: { x: number; y: number }[],
      ) =>
        cdp.send('Input.dispatchTouchEvent', {
          type,
          touchPoints: points.map((p, i) => ({ x: p.x, y: p.y, id: i })),
        });
      const spot = await toPage(page, '#iso', 120, 680);
      const beforeMenu = await settled(page, '#iso');
      await touch('touchStart', [spot]);
      await page.waitForTimeout(900);
      await touch('touchEnd', []);
      const menu = await settledChange(page, '#iso', beforeMenu);
      const m = await diff(page, beforeMenu, menu);
      expect(m.changed).toBeGreaterThan(500);
      // The menu opens at the pointer (or is pushed up to fit the screen).
      expect(Math.abs(m.box.x0 - 120)).toBeLessThan(40);
      await page.screenshot({ path: join(OUT, '6-direct-touch-long-press.png') });
      expect(
        await page.evaluate(() =>
          (
            window as unknown as { viewerTest: { sendKey(n: string, k: string): boolean } }
          ).viewerTest.sendKey('iso', 'Escape'),
        ),
      ).toBe(true);
      const a = await toPage(page, '#iso', 500, 400);
      const b = await toPage(page, '#iso', 700, 400);
      await touch('touchStart', [a, b]);
      for (let i = 1; i <= 5; i++) {
        await touch('touchMove', [
          { x: a.x - i * 20, y: a.y },
          { x: b.x + i * 20, y: b.y },
        ]);
      }
      await touch('touchEnd', []);
      // noVNC's mouse capture from the long-press's right button is released again.
      expect(
        await page.evaluate(
          () => document.getElementById('noVNC_mouse_capture_elem')?.style.display ?? 'none',
        ),
      ).toBe('none');
      const transform = await page.evaluate(
        () => document.querySelector<HTMLElement>('#iso .screen')?.style.transform ?? '',
      );
      const zoom = Number(/scale\(([\d.]+)\)/.exec(transform)?.[1] ?? '1');
      expect(zoom).toBeGreaterThan(1.5);
      await page.screenshot({ path: join(OUT, '7-pinch-zoom.png') });

      // Server-side resize: the desktop takes the viewer's size (ExtendedDesktopSize, Xvnc's RandR).
      await viewer.locator('button[aria-expanded]').click();
      await viewer.locator('select').first().selectOption('mouse');
      await viewer.getByRole('menuitem', { name: 'Resize desktop to window' }).click();
      await viewer.locator('button[aria-expanded]').click();
      const canvasSize = () =>
        page.evaluate(() => {
          const c = document.querySelector<HTMLCanvasElement>('#iso canvas');
          return c ? [c.width, c.height] : [];
        });
      await expect.poll(canvasSize, { timeout: 15_000 }).toEqual([1024, 640]);
      await page.screenshot({ path: join(OUT, '7b-resized-to-window.png') });

      // Suspending the environment ends the stream with 4001; the viewer says why.
      await d!.client.suspend(envId);
      await expect
        .poll(() => viewer.getAttribute('data-state'), { timeout: 30_000 })
        .toBe('suspended');
      expect(await viewer.getByTestId('viewer-message').textContent()).toContain('suspended');
      await page.screenshot({ path: join(OUT, '8-suspended.png') });
      // The shell's window follows the environment's state too.
      await expect
        .poll(() => shell.locator(`${win} [data-testid="env-state"]`).textContent(), {
          timeout: 30_000,
        })
        .toBe('suspended');
      await shell.screenshot({ path: join(OUT, '9-shell-suspended.png') });
    });
  },
);
