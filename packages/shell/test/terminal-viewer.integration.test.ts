/**
 * The terminal viewer in headless Chromium against a real daemon and the REAL OCI runtime, under
 * the daemon's Content-Security-Policy: a terminal environment's login shell answers a command
 * typed with real key events, its size follows the viewer's box (`stty size`), xterm's style rules
 * apply through the constructed stylesheet (style-src stays 'self'), and `exit 3` shows the exit
 * code.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHELL_DIR } from './helpers/harness.js';
import {
  PAGE_BASE,
  VIEWER_PASS,
  launchChromiumForTestPage,
  servePage,
  startRealDaemon,
  viewerSkipReason,
  type RealDaemon,
  type ViewerPageBuild,
} from './helpers/viewer-daemon.js';

const skip = await viewerSkipReason();

/** Builds test/helpers/terminal-page.ts like the desktop viewer's page (production mode). */
async function buildTerminalPage(): Promise<ViewerPageBuild> {
  const outDir = await mkdtemp(join(tmpdir(), 'virtos-terminal-page-'));
  try {
    await build({
      configFile: false,
      root: SHELL_DIR,
      base: PAGE_BASE,
      logLevel: 'warn',
      mode: 'production',
      plugins: [svelte()],
      build: {
        target: 'es2022',
        outDir,
        emptyOutDir: true,
        sourcemap: false,
        manifest: 'manifest.json',
        modulePreload: { polyfill: false },
        assetsInlineLimit: 0,
        rollupOptions: { input: { page: join(SHELL_DIR, 'test/helpers/terminal-page.ts') } },
      },
    });
    const manifest = JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8')) as Record<
      string,
      { file: string; isEntry?: boolean; css?: string[] }
    >;
    const entry = Object.values(manifest).find((m) => m.isEntry);
    if (!entry) throw new Error('terminal page build has no entry');
    const files = new Map<string, Buffer>();
    const walk = async (dir: string, rel: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(dir, e.name), `${rel}${e.name}/`);
        else files.set(`${rel}${e.name}`, await readFile(join(dir, e.name)));
      }
    };
    await walk(outDir, '');
    return { files, entry: entry.file, css: entry.css ?? [] };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

interface TerminalTest {
  unlock(p: string): Promise<void>;
  open(name: string, envId: string, w: number, h: number): void;
  resize(name: string, w: number, h: number): void;
  text(name: string): string;
  adoptedRules(): number;
}

describe.skipIf(skip !== undefined)(
  `terminal viewer, real runtime and Chromium${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let d: RealDaemon | undefined;
    let browser: Browser | undefined;
    let page: Page;
    let envId = '';

    beforeAll(async () => {
      const pageBuild = await buildTerminalPage();
      d = await startRealDaemon();
      const out = await d.client.create({ request: 'a debian terminal' }, { wait: true });
      expect(out.ok).toBe(true);
      envId = (out as { record: { id: string } }).record.id;
      browser = await launchChromiumForTestPage();
      page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
      await servePage(page, d.url, pageBuild);
      await page.goto(`${d.url}${PAGE_BASE}`);
      await page.waitForFunction(() => 'terminalTest' in window);
      await page.evaluate(
        (p) => (window as unknown as { terminalTest: TerminalTest }).terminalTest.unlock(p),
        VIEWER_PASS,
      );
    }, 300_000);
    afterAll(async () => {
      await browser?.close();
      await d?.close();
    }, 120_000);

    const text = (): Promise<string> =>
      page.evaluate(() =>
        (window as unknown as { terminalTest: TerminalTest }).terminalTest.text('t1'),
      );
    const waitText = (re: RegExp): Promise<unknown> =>
      page
        .waitForFunction(
          ([src, flags]) =>
            new RegExp(src as string, flags).test(
              (window as unknown as { terminalTest: TerminalTest }).terminalTest.text('t1'),
            ),
          [re.source, re.flags],
          { timeout: 30_000 },
        )
        .catch(async (e: unknown) => {
          throw new Error(`${re} not on the terminal: ${JSON.stringify(await text())}`, {
            cause: e,
          });
        });

    it('a typed command answers, stty follows the box, exit 3 is shown', async () => {
      await page.evaluate(
        ([id]) =>
          (window as unknown as { terminalTest: TerminalTest }).terminalTest.open(
            't1',
            id as string,
            900,
            500,
          ),
        [envId],
      );
      await page.waitForSelector('#t1 [data-phase="open"]', { timeout: 30_000 });
      await waitText(/user@\S+:~\$/);
      // xterm's own rules (row height, colours) arrive through the constructed stylesheet.
      expect(
        await page.evaluate(() =>
          (window as unknown as { terminalTest: TerminalTest }).terminalTest.adoptedRules(),
        ),
      ).toBeGreaterThan(0);

      await page.click('#t1 .xterm');
      await page.keyboard.type('echo "<$((6 * 7))>"');
      await page.keyboard.press('Enter');
      await waitText(/^<42>\s*$/m);

      await page.keyboard.type('stty size');
      await page.keyboard.press('Enter');
      await waitText(/^\d+ \d+\s*$/m);
      const first = /^(\d+) (\d+)\s*$/m.exec(await text());
      expect(first).not.toBeNull();
      const [rows1, cols1] = [Number(first![1]), Number(first![2])];

      // A narrower box: the viewer refits, the shell learns the new size.
      await page.evaluate(() =>
        (window as unknown as { terminalTest: TerminalTest }).terminalTest.resize('t1', 500, 300),
      );
      await page.keyboard.type('clear; stty size');
      await page.keyboard.press('Enter');
      await page.waitForFunction(
        ([c]) => {
          const t = (window as unknown as { terminalTest: TerminalTest }).terminalTest.text('t1');
          const m = /^(\d+) (\d+)\s*$/m.exec(t);
          return m !== null && Number(m[2]) < (c as number);
        },
        [cols1],
        { timeout: 30_000 },
      );
      const second = /^(\d+) (\d+)\s*$/m.exec(await text());
      expect(Number(second![1])).toBeLessThan(rows1);

      await page.keyboard.type('exit 3');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#t1 [data-exit="3"]', { timeout: 30_000 });
      expect(await page.textContent('#t1 [data-testid="terminal-ended"]')).toContain('code 3');
    }, 120_000);
  },
);
